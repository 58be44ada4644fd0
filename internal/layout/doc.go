// Package layout holds the test of the rule for pkg/ (README, "Code layout"): pkg/drr, pkg/failover,
// pkg/spread and pkg/rollout are engines of one command each, imported only by that command's plugin;
// every other pkg/ package is shared and imports no engine and no plugin.
package layout
