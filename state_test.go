package sdlife

import "testing"

// The state machine allows exactly the transitions of State's diagram.
// The ones it refuses are what keep the manager's view consistent: no
// READY=1 or RELOADING=1 after STOPPING=1 (since systemd 259 STOPPING=1 is
// final), no second start, nothing after Stopped.
func TestStateTransitions(t *testing.T) {
	all := []State{StateNew, StateStarting, StateReady, StateReloading, StateUpgrading, StateStopping, StateStopped}
	allowed := map[[2]State]bool{
		{StateNew, StateStarting}:       true,
		{StateNew, StateStopped}:        true, // a Service that never started is released
		{StateStarting, StateReady}:     true,
		{StateStarting, StateStopping}:  true,
		{StateStarting, StateStopped}:   true,
		{StateReady, StateReloading}:    true,
		{StateReady, StateStopping}:     true,
		{StateReady, StateStopped}:      true,
		{StateReloading, StateReady}:    true,
		{StateReloading, StateStopping}: true,
		{StateReloading, StateStopped}:  true,
		{StateReady, StateUpgrading}:    true,
		{StateUpgrading, StateReady}:    true, // the new binary cannot serve
		{StateUpgrading, StateStopping}: true, // handed over, or a stop meanwhile
		{StateUpgrading, StateStopped}:  true,
		{StateStopping, StateStopped}:   true,
	}
	for _, from := range all {
		for _, to := range all {
			t.Run(from.String()+"->"+to.String(), func(t *testing.T) {
				if got, want := from.next(to), allowed[[2]State{from, to}]; got != want {
					t.Errorf("next = %v, want %v", got, want)
				}
			})
		}
	}
}

// The readiness probe's word for each state: only ready is 200, and a
// stopped service still says stopping.
func TestStateProbe(t *testing.T) {
	tests := []struct {
		give State
		want string
	}{
		{StateNew, "starting"},
		{StateStarting, "starting"},
		{StateReady, "ready"},
		{StateReloading, "reloading"},
		{StateUpgrading, "upgrading"},
		{StateStopping, "stopping"},
		{StateStopped, "stopping"},
	}
	for _, tt := range tests {
		t.Run(tt.give.String(), func(t *testing.T) {
			if got := tt.give.probe(); got != tt.want {
				t.Errorf("probe() = %q, want %q", got, tt.want)
			}
		})
	}
}
