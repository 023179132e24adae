package model

import "fmt"

// ContextError reports a sequence that would grow past the context.
type ContextError struct {
	Have int // positions the sequence would need
	Max  int // positions available (n_positions, or the session's capacity)
}

func (e *ContextError) Error() string {
	return fmt.Sprintf("sequence needs %d positions, context is %d; shorten the prompt or lower the number of new tokens", e.Have, e.Max)
}
