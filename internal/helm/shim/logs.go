package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// maxLogLines bounds the lines kept per call; the oldest are dropped first.
const maxLogLines = 2000

// callLog is the slog.Handler given to Helm for one call. It keeps that
// call's lines, so concurrent calls never see each other's logs.
type callLog struct {
	sink   *logSink
	attrs  []slog.Attr
	groups []string
}

type logSink struct {
	mu      sync.Mutex
	lines   []string
	dropped int
}

func newCallLog() *callLog { return &callLog{sink: &logSink{}} }

func (l *callLog) Enabled(context.Context, slog.Level) bool { return true }

func (l *callLog) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Time.UTC().Format("2006-01-02T15:04:05.000Z"))
	b.WriteByte(' ')
	b.WriteString(r.Level.String())
	b.WriteByte(' ')
	b.WriteString(r.Message)
	prefix := strings.Join(l.groups, ".")
	write := func(a slog.Attr) {
		if a.Equal(slog.Attr{}) {
			return
		}
		key := a.Key
		if prefix != "" {
			key = prefix + "." + key
		}
		fmt.Fprintf(&b, " %s=%v", key, a.Value.Resolve().Any())
	}
	for _, a := range l.attrs {
		write(a)
	}
	r.Attrs(func(a slog.Attr) bool { write(a); return true })
	l.sink.add(b.String())
	return nil
}

func (l *callLog) WithAttrs(attrs []slog.Attr) slog.Handler {
	n := *l
	n.attrs = append(append([]slog.Attr{}, l.attrs...), attrs...)
	return &n
}

func (l *callLog) WithGroup(name string) slog.Handler {
	if name == "" {
		return l
	}
	n := *l
	n.groups = append(append([]string{}, l.groups...), name)
	return &n
}

// Printf lets the shim add its own lines next to Helm's.
func (l *callLog) Printf(format string, args ...any) {
	l.sink.add(time.Now().UTC().Format("2006-01-02T15:04:05.000Z") + " INFO " + fmt.Sprintf(format, args...))
}

func (s *logSink) add(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.lines) >= maxLogLines {
		s.lines = s.lines[1:]
		s.dropped++
	}
	s.lines = append(s.lines, line)
}

func (l *callLog) Lines() []string {
	l.sink.mu.Lock()
	defer l.sink.mu.Unlock()
	out := make([]string, 0, len(l.sink.lines)+1)
	if l.sink.dropped > 0 {
		out = append(out, fmt.Sprintf("(%d earlier lines dropped)", l.sink.dropped))
	}
	return append(out, l.sink.lines...)
}
