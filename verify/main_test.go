package verify

import (
	"testing"

	"github.com/meshops/meshops/test/kubetest"
)

var env *kubetest.Env

func TestMain(m *testing.M) { kubetest.Main(m, &env) }
