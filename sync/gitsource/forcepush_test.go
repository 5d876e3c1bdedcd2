package gitsource

import "testing"

func TestForcePushResetsTheCheckoutToTheRemoteAndIsLogged(t *testing.T) {
	for _, shallow := range []bool{false, true} {
		name := "full history"
		if shallow {
			name = "shallow first clone"
		}
		t.Run(name, func(t *testing.T) {
			up := newUpstream(t, "", "")
			base := up.commit(map[string]string{"mesh/a.yaml": "kind: A\n"}, nil)
			up.push("main")
			up.commit(map[string]string{"mesh/bad.yaml": "kind: Bad\n"}, nil)
			up.push("main")
			src, logs := newSource(t, Options{URL: up.httpURL(), CacheDir: t.TempDir(), Shallow: shallow})
			bad := fetch(t, src)

			up.rewind(base)
			fixed := up.commit(map[string]string{"mesh/good.yaml": "kind: Good\n"}, nil)
			up.push("main")
			art := fetch(t, src)

			if !art.ForcePushed || art.Commit != fixed.String() || art.Previous != bad.Commit || !art.Changed {
				t.Errorf("fetch after a force push = %+v, want force pushed to %s from %s", art, fixed, bad.Commit)
			}
			if readFile(t, art, "mesh/bad.yaml") != "" || readFile(t, art, "mesh/good.yaml") != "kind: Good\n" {
				t.Error("checkout still holds the commit that was force-pushed away")
			}
			wantLog(t, logs, "force push")

			next := up.commit(map[string]string{"mesh/next.yaml": "kind: Next\n"}, nil)
			up.push("main")
			if art := fetch(t, src); art.ForcePushed || art.Commit != next.String() {
				t.Errorf("fast-forward after the force push = %+v, want %s without force push", art, next)
			}
		})
	}
}
