package quota

import (
	"testing"

	"github.com/cerulean-ai/cerulean/internal/fault"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		limit, used, requested int
		wantErr                string
	}{
		{limit: 100, used: 0, requested: 100},
		{limit: 100, used: 40, requested: 60},
		{limit: 228, used: 120, requested: 120, wantErr: "The specified capacity '120' of account deployment is bigger than available capacity '108' for UsageName 'Tokens Per Minute (thousands) - gpt (Standard)'."},
		{limit: 10, used: 30, requested: 1, wantErr: "The specified capacity '1' of account deployment is bigger than available capacity '0' for UsageName 'Tokens Per Minute (thousands) - gpt (Standard)'."},
	}
	for _, tt := range tests {
		err := Check("gpt", "Standard", tt.limit, tt.used, tt.requested)
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("Check(%d,%d,%d) = %v, want nil", tt.limit, tt.used, tt.requested, err)
			}
			continue
		}
		f, ok := fault.As(err)
		if !ok || f.Code != "InsufficientQuota" || f.Kind != fault.QuotaExceeded || f.Message != tt.wantErr {
			t.Errorf("Check(%d,%d,%d) = %#v, want InsufficientQuota %q", tt.limit, tt.used, tt.requested, err, tt.wantErr)
		}
	}
}
