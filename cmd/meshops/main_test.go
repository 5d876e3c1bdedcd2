package main

import "testing"

func TestGCPercentDefaultsTo50UnlessGOGCIsSet(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		percent int
		set     bool
	}{
		{"GOGC unset", nil, 50, true},
		{"GOGC set by the user wins", map[string]string{"GOGC": "100"}, 0, false},
		{"GOGC=off wins too", map[string]string{"GOGC": "off"}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lookup := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			percent, set := defaultGCPercent(lookup)
			if percent != tc.percent || set != tc.set {
				t.Errorf("defaultGCPercent = %d, %v; want %d, %v", percent, set, tc.percent, tc.set)
			}
		})
	}
}
