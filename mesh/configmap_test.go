package mesh

import "testing"

func TestSharedConfigMapName(t *testing.T) {
	tests := []struct {
		name   string
		rev    string
		wantOK bool
	}{
		{"istio-shared-configmap-asm-1-29", "asm-1-29", true},
		{"istio-shared-configmap-1-29-0", "1-29-0", true},
		{"istio-shared-configmap-", "", false},
		{"istio-other", "", false},
	}
	for _, tt := range tests {
		rev, ok := RevisionOfSharedConfigMap(tt.name)
		if rev != tt.rev || ok != tt.wantOK {
			t.Errorf("RevisionOfSharedConfigMap(%q) = %q, %v; want %q, %v", tt.name, rev, ok, tt.rev, tt.wantOK)
		}
		if ok && SharedConfigMapName(rev) != tt.name {
			t.Errorf("SharedConfigMapName(%q) = %q", rev, SharedConfigMapName(rev))
		}
	}
}
