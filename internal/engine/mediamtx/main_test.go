package mediamtx

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain runs this test binary as the hook when it is started so (by
// MediaMTX or startHook: the first argument is the hook command, which go
// test never passes), else the tests. No environment variable marks it:
// children get a minimal environment (publisher.ChildEnv).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == HookCommand {
		os.Exit(RunHook(os.Args[2:], os.Getenv, os.Stderr))
	}
	goleak.VerifyTestMain(m)
}
