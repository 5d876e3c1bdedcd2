package redact

// Error returns err with its message masked by Text, or nil for nil. The
// result unwraps to err, so errors.Is and errors.As still see through it;
// only the text changes. Use it where an error of a library that echoes
// its input (go-git prints the URL it fetched) leaves meshops.
func Error(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	masked := Text(msg)
	if masked == msg {
		return err
	}
	return &maskedError{msg: masked, err: err}
}

type maskedError struct {
	msg string
	err error
}

func (e *maskedError) Error() string { return e.msg }
func (e *maskedError) Unwrap() error { return e.err }
