//go:build unix

package main

import (
	"fmt"
	"syscall"
)

// raiseFileLimit raises the soft limit on open files to the hard one and
// fails when even that is under need.
func raiseFileLimit(need uint64) error {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return fmt.Errorf("read the open-file limit: %w", err)
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			return fmt.Errorf("raise the open-file limit to %d: %w", rl.Max, err)
		}
	}
	if uint64(rl.Cur) < need {
		return fmt.Errorf("this run needs about %d open files but the limit is %d: lower --viewers or raise the hard limit (ulimit -Hn)", need, rl.Cur)
	}
	return nil
}
