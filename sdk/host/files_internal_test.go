package host

import "testing"

func TestInside(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"/dev/shm/gozoo-host-1-2/out-3-0", true},
		{"/dev/shm/gozoo-host-1-2/out-3-", true},
		{"/dev/shm/gozoo-host-1-2/out-4-0", false},
		{"/dev/shm/gozoo-host-1-2/in-3-0", false},
		{"/dev/shm/gozoo-host-1-2/sub/out-3-0", false},
		{"/dev/shm/gozoo-host-1-2/../out-3-0", false},
		{"/dev/shm/out-3-0", false},
		{"/etc/passwd", false},
		{"out-3-0", false},
		{"/dev/shm/gozoo-host-1-2//out-3-0", false},
	}
	for _, tt := range tests {
		if got := inside(tt.path, "/dev/shm/gozoo-host-1-2", "out-3-"); got != tt.want {
			t.Errorf("inside(%q) = %v; want %v", tt.path, got, tt.want)
		}
	}
}
