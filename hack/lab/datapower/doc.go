// Package datapower is a simulator of the IBM DataPower Gateway CLI on a gateway pod's console, as
// seen through `kubectl attach`, and of the gateway-peering state one GatewayCluster's pods share.
//
// It simulates the documented behaviour the outage-less DRR runbook (seed 000) and apic-reference.md
// rely on. Where IBM publishes no sample, the simulator chooses, and the choice is written next to
// the code that makes it. The choices the product's client (pkg/datapower) must agree with are:
//
//   - Prompts: `login: `, `Password: `, optional `Domain (? for all): `, then `idg# ` in the default
//     domain, `idg[<domain>]# ` after `switch <domain>`, `idg[<domain>](config)# `,
//     `idg[<domain>](diag)# `, and the sub-mode `idg[<domain>](config apic-gw-service)# ` (shape of
//     DataPower's `idg(config web-mgmt)# `).
//   - Errors: `Unknown command or macro (<command>)` for unknown commands (as real DataPower prints
//     it); every other error is one line starting with "% " (DataPower's error prefix).
//   - Confirmations end in `[y/n]: `: `write mem` asks IBM's documented
//     `Overwrite previously saved configuration? Yes/No [y/n]: `; gateway-peering-flush asks a
//     question of our choosing (IBM publishes none).
//   - The apic-gw-service debug log is read with `show file logtemp:///gwd-log.log`
//     (IBM says only "the debug log target for the apic-gw-service, located in logtemp:///").
//   - `show gateway-peering-manager` lists `<owner> <peering> [up]` (owners apic-gw-service,
//     rate-limit, subscription, ratelimit-module, the deprecated apiprobe; no token-management);
//     `show gateway-peering` prints one `gateway-peering: <name> [up]` block per object;
//     `show gateway-peering-status` the real table; `show apic-gw-service` the real block, with no
//     registration property (fixtures in internal/fixtures/console, compared byte for byte).
//   - Asynchronous log lines (GroupOptions.ConsoleLogs): real lines from fixture
//     async-log-lines.log, at seeded random points after a prompt, above and inside an output.
//   - Byte 0x04 (Ctrl-D) ends the DataPower process: Serve returns ErrProcessExited so the lab can
//     kill the pod. A stream that merely closes is a detach (like Ctrl-P Ctrl-Q): Serve returns nil
//     and the console keeps its state for the next attach, so `kubectl attach -i < script` works.
package datapower
