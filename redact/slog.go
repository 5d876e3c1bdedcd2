package redact

import (
	"context"
	"log/slog"
)

// Handler wraps h so that no log line carries a secret: the message and
// every string, error and Stringer attribute go through String under the
// attribute's key (a "token" attribute is masked whole; a "reason" holding
// an error with a Bearer inside has the credential masked). Groups and
// attributes added with With are masked too.
func Handler(h slog.Handler) slog.Handler { return handler{h} }

type handler struct{ next slog.Handler }

func (h handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, Text(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	masked := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		masked[i] = attr(a)
	}
	return handler{h.next.WithAttrs(masked)}
}

func (h handler) WithGroup(name string) slog.Handler { return handler{h.next.WithGroup(name)} }

// attr masks one attribute. LogValuers resolve first, so a type that
// already hides its secrets (gitsource.Credentials) keeps its own say.
func attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, String(a.Key, v.String()))
	case slog.KindGroup:
		group := v.Group()
		masked := make([]slog.Attr, len(group))
		for i, g := range group {
			masked[i] = attr(g)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(masked...)}
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, String(a.Key, x.Error()))
		case interface{ String() string }:
			return slog.String(a.Key, String(a.Key, x.String()))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
