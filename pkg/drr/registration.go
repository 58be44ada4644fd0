package drr

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/util/wait"
)

// RegistrationCheck asks the management side whether the gateway service re-registered after the
// DRR: ok when it is confirmed, else detail says what is still missing. An error stops the wait
// (a rejected login, an unknown catalog). No DataPower property shows registration (IBM Support Q&A
// node 7118911; terraform-provider-datapower's apic-gw-service object): the check is API Manager's
// view of the gateway service (pkg/apimanager), never the device.
type RegistrationCheck func(ctx context.Context) (ok bool, detail string, err error)

// ManualRegistrationCheck is how to confirm the re-registration by hand, printed with UNVERIFIED
// (IBM "Reviewing a gateway's processing status"; IBM's Kubernetes gateway configuration for the
// debug log target).
const ManualRegistrationCheck = `check it on the management side: POST <platform-api>/api/token, then ` +
	`GET <platform-api>/api/catalogs/<org>/<catalog>/configured-gateway-services?fields=add(gateway_processing_status,events) ` +
	`and see gateway_processing_status.service_up_to_date true in every catalog (or pass --api-manager-url); ` +
	`the apic-gw-service debug log (log target gwd-log, logtemp:///gwd-log.log in IBM's Kubernetes configuration) shows the gateway's side`

// registration triggers the webhook if configured, then confirms the re-registration with the
// RegistrationCheck: PASSED only when it says so; without a check every member is UNVERIFIED with
// the reason and the command to check by hand (never PASSED on a guess, never a wait for a field
// no DataPower shows).
func (r *Runner) registration(ctx context.Context, pods []string) error {
	start := r.cfg.Now()
	note := r.trigger(ctx)
	if r.cfg.Registration == nil {
		msg := "no registration check (no DataPower property shows re-registration): " + ManualRegistrationCheck
		if note != "" {
			msg = note + "; " + msg
		}
		for _, pod := range pods {
			r.record(pod, StepRegistration, Unverified, start, msg)
		}
		if r.cfg.Progress != nil {
			r.cfg.Progress.Warnf("registration UNVERIFIED: %s", msg)
		}
		return nil
	}
	ps := r.progressStep("gateway service", "confirm re-registration with API Manager")
	deadline, cancel := context.WithTimeout(ctx, r.cfg.RegistrationTimeout)
	defer cancel()
	var detail string
	err := wait.PollUntilContextCancel(deadline, r.cfg.PollInterval, true, func(dctx context.Context) (bool, error) {
		ok, d, err := r.cfg.Registration(dctx)
		detail = d
		return ok, err
	})
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		} else if deadline.Err() != nil {
			err = fmt.Errorf("not re-registered within --registration-timeout %s (%s); the management server's heartbeat comes every 5 minutes",
				r.cfg.RegistrationTimeout, detail)
		}
		for _, pod := range pods {
			r.record(pod, StepRegistration, Failed, start, err.Error())
		}
		ps.fail(err)
		return fmt.Errorf("step %s: %w", StepRegistration, err)
	}
	if note != "" {
		detail += " (" + note + ")"
	}
	for _, pod := range pods {
		r.record(pod, StepRegistration, Passed, start, detail)
	}
	ps.done(detail)
	return nil
}

// trigger sends the webhook if configured; the heartbeat still comes when it fails.
func (r *Runner) trigger(ctx context.Context) string {
	if r.cfg.Trigger == nil {
		return ""
	}
	msg, err := r.cfg.Trigger(ctx)
	if err == nil {
		return msg
	}
	note := fmt.Sprintf("webhook trigger failed (%v); waiting for the heartbeat", err)
	if r.cfg.Progress != nil {
		r.cfg.Progress.Warnf("%s", note)
	}
	return note
}
