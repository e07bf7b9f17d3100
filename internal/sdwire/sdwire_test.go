package sdwire

import (
	"strings"
	"testing"
)

func TestValidFDName(t *testing.T) {
	tests := []struct {
		name string
		give string
		want bool
	}{
		{name: "simple", give: "http", want: true},
		{name: "unit name", give: "chi-server.socket", want: true},
		{name: "spaces and symbols", give: "a b=c/d", want: true},
		{name: "max length", give: strings.Repeat("a", maxFDNameLen), want: true},
		{name: "empty", give: "", want: false},
		{name: "too long", give: strings.Repeat("a", maxFDNameLen+1), want: false},
		{name: "colon", give: "a:b", want: false},
		{name: "newline", give: "a\nb", want: false},
		{name: "DEL", give: "a\x7f", want: false},
		{name: "non-ASCII", give: "grüße", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ValidFDName(tt.give); got != tt.want {
				t.Fatalf("ValidFDName(%q) = %v, want %v", tt.give, got, tt.want)
			}
		})
	}
}
