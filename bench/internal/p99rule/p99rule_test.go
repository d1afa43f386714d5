package p99rule

import "testing"

func TestJudge(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    Case
		want Verdict
	}{
		{"at the target", Case{Ratio: 1.15, Floor: 1.0, FloorHi: 1.1, VsFloorLo: 1.2}, Met},
		{"under the target, over the floor beyond noise", Case{Ratio: 1.05, Floor: 0.9, FloorHi: 1.0, VsFloorLo: 1.1}, Met},
		{"over the floor beyond noise, whatever the floor", Case{Ratio: 1.4, Floor: 1.3, FloorHi: 1.5, VsFloorLo: 1.01}, OverFloor},
		{"paired bound on 1 is not beyond noise", Case{Ratio: 1.2, Floor: 1.16, FloorHi: 1.3, VsFloorLo: 1}, Floor},
		{"floor over the target", Case{Ratio: 1.2, Floor: 1.1501, FloorHi: 1.3, VsFloorLo: 0.9}, Floor},
		{"floor on the target is under it", Case{Ratio: 1.2, Floor: 1.15, FloorHi: 1.3, VsFloorLo: 0.9}, WithinNoise},
		{"floor's bound on the target", Case{Ratio: 1.2, Floor: 1.1, FloorHi: 1.15, VsFloorLo: 0.9}, WithinNoise},
		{"floor's interval under the target", Case{Ratio: 1.2, Floor: 1.1, FloorHi: 1.1499, VsFloorLo: 0.9}, NotMet},
	} {
		if got := Judge(tc.c); got != tc.want {
			t.Errorf("%s: Judge(%+v) = %d, want %d", tc.name, tc.c, got, tc.want)
		}
	}
}
