package gateway

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cerulean-ai/cerulean/internal/fault"
)

func TestRetryAfterOf(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		want   time.Duration
		wantOK bool
	}{
		{"fault field", &fault.Error{Kind: fault.RateLimited, RetryAfter: 3 * time.Second}, 3 * time.Second, true},
		{"wrapped fault field", fmt.Errorf("admit: %w", &fault.Error{Kind: fault.RateLimited, RetryAfter: 250 * time.Millisecond}), 250 * time.Millisecond, true},
		{"cause method", &fault.Error{Kind: fault.RateLimited, Err: rateLimited{time.Second}}, time.Second, true},
		{"field wins over cause", &fault.Error{Kind: fault.RateLimited, RetryAfter: 2 * time.Second, Err: rateLimited{time.Second}}, 2 * time.Second, true},
		{"none", errors.New("plain"), 0, false},
	}
	for _, tt := range tests {
		got, ok := retryAfterOf(tt.err)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("%s: retryAfterOf = %v, %v; want %v, %v", tt.name, got, ok, tt.want, tt.wantOK)
		}
	}
}
