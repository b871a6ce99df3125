package mediamtx

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(hookHelperEnv) == "1" && len(os.Args) > 1 && os.Args[1] == HookCommand {
		os.Exit(RunHook(os.Args[2:], os.Getenv, os.Stderr))
	}
	// MediaMTX, started by the tests, runs this binary as its hook.
	os.Setenv(hookHelperEnv, "1")
	goleak.VerifyTestMain(m)
}
