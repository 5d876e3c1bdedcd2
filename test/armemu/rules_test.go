package armemu

import (
	"slices"
	"strings"
	"testing"
)

func TestPlanChangeFollowsTheAddOnsRevisionRules(t *testing.T) {
	disabled := meshSpec{Mode: ModeDisabled}
	on := func(revs ...string) meshSpec { return meshSpec{Mode: ModeIstio, Revisions: revs} }
	tests := []struct {
		name    string
		kube    string
		cur     meshSpec
		req     meshSpec
		wantOp  Operation
		want    []string
		wantErr string
	}{
		{name: "install one offered revision", cur: disabled, req: on("asm-1-28"), wantOp: OpInstall, want: []string{"asm-1-28"}},
		{name: "install without a revision picks the newest compatible", cur: disabled, req: on(), wantOp: OpInstall, want: []string{"asm-1-30"}},
		{name: "install names are case-insensitive", cur: disabled, req: on("ASM-1-28"), wantOp: OpInstall, want: []string{"asm-1-28"}},
		{name: "install two at once is refused", cur: disabled, req: on("asm-1-28", "asm-1-29"), wantErr: "not enabled"},
		{name: "install a revision the region lacks", cur: disabled, req: on("asm-1-17"), wantErr: "Revision asm-1-17 is not supported by the service mesh add-on"},
		{name: "install a revision incompatible with the Kubernetes version", kube: "1.35.1", cur: disabled, req: on("asm-1-28"), wantErr: "not compatible with Kubernetes version 1.35.1"},
		{name: "mode is checked", cur: disabled, req: meshSpec{Mode: "Linkerd"}, wantErr: "serviceMeshProfile.mode"},
		{name: "same revisions change nothing", cur: on("asm-1-28"), req: on("asm-1-28"), wantOp: OpUpdate, want: []string{"asm-1-28"}},
		{name: "no revisions on an enabled mesh change nothing", cur: on("asm-1-28"), req: on(), wantOp: OpUpdate, want: []string{"asm-1-28"}},
		{name: "canary to n+1", cur: on("asm-1-28"), req: on("asm-1-28", "asm-1-29"), wantOp: OpCanary, want: []string{"asm-1-28", "asm-1-29"}},
		{name: "canary to n+2, any order", cur: on("asm-1-28"), req: on("asm-1-30", "asm-1-28"), wantOp: OpCanary, want: []string{"asm-1-28", "asm-1-30"}},
		{name: "canary to n+3 is refused", cur: on("asm-1-27"), req: on("asm-1-27", "asm-1-30"), wantErr: "asm-1-30 is not an available upgrade from asm-1-27"},
		{name: "canary to an older revision is refused", cur: on("asm-1-28"), req: on("asm-1-27", "asm-1-28"), wantErr: "asm-1-27 is not an available upgrade from asm-1-28"},
		{name: "canary to a revision incompatible with the cluster is refused", kube: "1.31.4", cur: on("asm-1-28"), req: on("asm-1-28", "asm-1-29"), wantErr: "not compatible with Kubernetes version 1.31.4"},
		{name: "three revisions are refused", cur: on("asm-1-28"), req: on("asm-1-28", "asm-1-29", "asm-1-30"), wantErr: "at most two revisions"},
		{name: "a revision twice is refused", cur: on("asm-1-28"), req: on("asm-1-28", "asm-1-28"), wantErr: "listed twice"},
		{name: "replacing the revision without a canary is refused", cur: on("asm-1-28"), req: on("asm-1-29"), wantErr: "through a canary upgrade"},
		{name: "complete keeps the new revision", cur: on("asm-1-28", "asm-1-29"), req: on("asm-1-29"), wantOp: OpComplete, want: []string{"asm-1-29"}},
		{name: "rollback keeps the old revision", cur: on("asm-1-28", "asm-1-29"), req: on("asm-1-28"), wantOp: OpRollback, want: []string{"asm-1-28"}},
		{name: "a second canary during a canary is refused", cur: on("asm-1-28", "asm-1-29"), req: on("asm-1-29", "asm-1-30"), wantErr: "canary upgrade from asm-1-28 to asm-1-29 is in progress"},
		{name: "the canary unchanged changes nothing", cur: on("asm-1-28", "asm-1-29"), req: on("asm-1-29", "asm-1-28"), wantOp: OpUpdate, want: []string{"asm-1-28", "asm-1-29"}},
		{name: "disable removes everything", cur: on("asm-1-28", "asm-1-29"), req: meshSpec{Mode: "disabled"}, wantOp: OpDisable},
		{name: "disable a disabled mesh changes nothing", cur: disabled, req: meshSpec{Mode: ModeDisabled}, wantOp: OpUpdate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kube := tt.kube
			if kube == "" {
				kube = DefaultKubernetesVersion
			}
			got, aerr := planChange(newCatalog(DefaultRevisions(), kube), tt.cur, tt.req)
			if tt.wantErr != "" {
				if aerr == nil {
					t.Fatalf("planChange accepted %v → %v as %s; want an error with %q", tt.cur, tt.req, got.Op, tt.wantErr)
				}
				if aerr.Status != 400 || !strings.Contains(aerr.Message, tt.wantErr) {
					t.Fatalf("planChange error = %v; want 400 with %q", aerr, tt.wantErr)
				}
				return
			}
			if aerr != nil {
				t.Fatalf("planChange refused %v → %v: %v", tt.cur, tt.req, aerr)
			}
			if got.Op != tt.wantOp || !slices.Equal(got.Want.Revisions, tt.want) {
				t.Fatalf("planChange = %s %v; want %s %v", got.Op, got.Want.Revisions, tt.wantOp, tt.want)
			}
		})
	}
}
