package features

import "testing"

func TestCheckSourceID(t *testing.T) {
	for id, ok := range map[string]bool{
		"0-res-jb": true, "20-gemmascope-res-131k": true, "blocks.0.hook_resid_pre": true, "99999-x": true,
		"00000000000000000006-res": true, // leading zeros: layer 6
		"100000-x":                 false, "99999999999-res-x": false, "9223372036854775808-x": false,
		"": false, "a/b": false, "-x": false, "x\xff": false,
	} {
		if err := CheckSourceID(id); (err == nil) != ok {
			t.Errorf("CheckSourceID(%q) = %v, want ok=%v", id, err, ok)
		}
	}
}

func TestParseIndexBounds(t *testing.T) {
	for s, ok := range map[string]bool{
		"0": true, "2147483647": true, " 12 ": true,
		"2147483648": false, "4294967296": false, "9223372036854775807": false, "9223372036854775808": false,
		"-1": false, "1e3": false, "": false, "abc": false,
	} {
		if _, err := ParseIndex(s); (err == nil) != ok {
			t.Errorf("ParseIndex(%q) = %v, want ok=%v", s, err, ok)
		}
	}
}
