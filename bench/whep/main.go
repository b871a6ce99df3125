// Command whep is a WHEP viewer for measurements: it holds one session to
// the URL until interrupted, then prints how many access units arrived.
//
//	go run ./bench/whep http://127.0.0.1:8889/demo-webrtc/whep
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/toposync/toposync-streaming/internal/whep"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: whep WHEP-URL")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sess, err := whep.Dial(ctx, os.Args[1], "", "")
	if err != nil {
		fmt.Fprintln(os.Stderr, "whep:", err)
		os.Exit(1)
	}
	<-ctx.Done()
	fmt.Printf("access units: %d\n", sess.Stats().Frames)
	_ = sess.Close()
}
