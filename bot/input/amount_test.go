package input

import "testing"

func TestParseAmount(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"1 500 000,50", 150000050, false},
		{"1500000.50", 150000050, false},
		{"1,5 млн", 150000000, false},
		{"1.5 млн", 150000000, false},
		{"2,5m", 250000000, false},
		{"1 000 000 руб.", 100000000, false},
		{"1\u00a0000\u00a0000", 100000000, false},
		{"1,000,000", 100000000, false},
		{"1.000.000", 100000000, false},
		{"12 тыс", 1200000, false},
		{"999", 99900, false},
		{"0,5", 50, false},
		{"100,000.25", 10000025, false},
		{"", 0, true},
		{"много", 0, true},
		{"-5", 0, true},
		{"1,5 миллиардов", 0, true},
	}
	for _, tc := range tests {
		got, err := ParseAmount(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseAmount(%q) = %d, %v; want %d, err %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}
