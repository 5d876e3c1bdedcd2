package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/meshops/meshops/apply"
	"github.com/meshops/meshops/plan"
	"github.com/meshops/meshops/status"
)

// progressOptions say how sync shows a rollout under way.
type progressOptions struct {
	// live: the output is a terminal. Finished steps scroll as in a pipe;
	// below them a block of the steps in flight is redrawn in place.
	live bool
	// color: the status of a step is coloured (a terminal, no NO_COLOR).
	color bool
	// width is the terminal's width: a line of the block is cut to it,
	// since a line that wraps would leave a copy on screen at each redraw.
	width func() int
	// maxInFlight bounds the block's height: the oldest steps in flight
	// are shown, then "and K more".
	maxInFlight int
	// redraw is how often, at most, the block is redrawn.
	redraw time.Duration
	// heartbeat: in a pipe, a step that has said nothing for this long
	// gets a line saying what it still waits for (CI logs stay alive).
	heartbeat time.Duration
	now       func() time.Time
}

func defaultProgressOptions() progressOptions {
	return progressOptions{width: func() int { return 80 }, maxInFlight: 8, redraw: 200 * time.Millisecond,
		heartbeat: 30 * time.Second, now: time.Now}
}

// progress shows sync's executor events: one line per step as it ends,
// numbered in the order they end, so the numbers only grow even when
// restarts run side by side; on a terminal, also the steps in flight. It
// keeps what ended for the summary.
type progress struct {
	w     io.Writer
	o     progressOptions
	mu    sync.Mutex
	total int
	// finished counts the steps that ended: the n of [n/N].
	finished int
	// flying are the steps in flight, in the order they started; gone
	// are the plan indexes of those that ended.
	flying []*flight
	gone   map[int]bool
	// queued are the lines of steps that ended since the last redraw
	// (live only; a pipe gets them at once).
	queued []string
	// drawn is the height of the block on screen now, frame the block.
	drawn int
	frame string
	// events are those the summary counts: ended steps and rollbacks.
	events []apply.Event
	stop   chan struct{}
	done   chan struct{}
}

// flight is a step under way.
type flight struct {
	index   int
	step    plan.Step
	start   time.Time
	waiting string
	// said is when a pipe last had a line about it.
	said time.Time
}

func newProgress(w io.Writer, o progressOptions) *progress {
	return &progress{w: w, o: o}
}

// setTotal sets the N of [n/N]: the steps of the plan.
func (p *progress) setTotal(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total = n
}

// ended are the events the summary counts: ended steps and rollbacks.
func (p *progress) ended() []apply.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.events)
}

// begin starts the redraws (live) or the heartbeats (a pipe); end stops
// them. Until a step starts, neither writes anything.
func (p *progress) begin() {
	p.stop, p.done = make(chan struct{}), make(chan struct{})
	every := p.o.redraw
	if !p.o.live {
		every = time.Second
	}
	go func() {
		defer close(p.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.tick()
			}
		}
	}()
}

// end writes what is queued and clears the block, so the summary follows
// the last finished line.
func (p *progress) end() {
	if p.stop == nil {
		return
	}
	close(p.stop)
	<-p.done
	p.stop = nil
	p.mu.Lock()
	defer p.mu.Unlock()
	p.flush(false)
}

// observe takes one executor event; it is called from several workers.
func (p *progress) observe(ev apply.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.o.now()
	switch ev.Status {
	case apply.StepStarted:
		p.flying = append(p.flying, &flight{index: ev.Index, step: ev.Step, start: now, said: now})
	case apply.StepWaiting:
		if ev.Index < 0 || p.gone[ev.Index] {
			// A rollback's restart (no step of the plan, no end event), or
			// news that overtook the step's end: a line, no flight.
			if ev.Index < 0 {
				p.line(progressLine("[rollback]", ev.Step, ev.Status, ev.Elapsed, ev.Message, p.o.color))
			}
			return
		}
		f := p.flight(ev, now)
		if f.waiting == ev.Message {
			return
		}
		f.waiting, f.said = ev.Message, now
		if !p.o.live {
			p.line(progressLine("[wait]", ev.Step, ev.Status, now.Sub(f.start), ev.Message, false))
		}
	case apply.StepRollback:
		p.events = append(p.events, ev)
		p.line(progressLine("[rollback]", ev.Step, ev.Status, ev.Elapsed, ev.Message, p.o.color))
	default: // done, failed, skipped
		p.flying = slices.DeleteFunc(p.flying, func(f *flight) bool { return f.index == ev.Index })
		if p.gone == nil {
			p.gone = map[int]bool{}
		}
		p.gone[ev.Index] = true
		p.finished++
		p.events = append(p.events, ev)
		p.line(progressLine(fmt.Sprintf("[%d/%d]", p.finished, p.total), ev.Step, ev.Status, ev.Elapsed, ev.Message, p.o.color))
	}
}

// flight is the step of ev in flight, added if its start was not seen.
func (p *progress) flight(ev apply.Event, now time.Time) *flight {
	for _, f := range p.flying {
		if f.index == ev.Index {
			return f
		}
	}
	f := &flight{index: ev.Index, step: ev.Step, start: now.Add(-ev.Elapsed), said: now}
	p.flying = append(p.flying, f)
	return f
}

// line writes a finished line: at once in a pipe, at the next redraw on a
// terminal (above the block).
func (p *progress) line(s string) {
	if p.o.live {
		p.queued = append(p.queued, s)
		return
	}
	fmt.Fprintln(p.w, s)
}

func (p *progress) tick() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.o.live {
		p.flush(true)
		return
	}
	now := p.o.now()
	for _, f := range p.flying {
		if now.Sub(f.said) >= p.o.heartbeat {
			f.said = now
			fmt.Fprintln(p.w, progressLine("[wait]", f.step, apply.StepWaiting, now.Sub(f.start), orUnderWay(f.waiting), false))
		}
	}
}

// flush redraws the terminal: the queued lines where the block was, then
// the block again (none when the view ends). One write, so the screen
// never shows half a frame.
func (p *progress) flush(block bool) {
	if !p.o.live {
		return
	}
	frame := ""
	if block {
		frame = inFlightFrame(p.snapshot(), p.o)
		if len(p.queued) == 0 && p.drawn > 0 && frame == p.frame {
			return // the screen shows it already
		}
	}
	var b strings.Builder
	if p.drawn > 0 {
		// Up to the block's first line, then erase to the end of the screen.
		fmt.Fprintf(&b, "\x1b[%dA\r\x1b[J", p.drawn)
	}
	for _, l := range p.queued {
		b.WriteString(l + "\n")
	}
	p.queued = p.queued[:0]
	b.WriteString(frame)
	p.drawn, p.frame = strings.Count(frame, "\n"), frame
	if b.Len() > 0 {
		io.WriteString(p.w, b.String())
	}
}

// above is w (stderr, for logs) written above the block: a log line on
// the terminal would otherwise land inside the block and be erased by the
// next redraw, or push it down. The block is drawn again at the next tick.
func (p *progress) above(w io.Writer) io.Writer { return aboveWriter{p, w} }

type aboveWriter struct {
	p *progress
	w io.Writer
}

func (a aboveWriter) Write(data []byte) (int, error) {
	a.p.mu.Lock()
	defer a.p.mu.Unlock()
	if a.p.o.live && a.p.drawn > 0 {
		fmt.Fprintf(a.p.w, "\x1b[%dA\r\x1b[J", a.p.drawn)
		a.p.drawn = 0
	}
	return a.w.Write(data)
}

// flightView is the state the block is drawn from.
type flightView struct {
	now          time.Time
	ended, total int
	flying       []flight
}

func (p *progress) snapshot() flightView {
	v := flightView{now: p.o.now(), ended: p.finished, total: p.total}
	for _, f := range p.flying {
		v.flying = append(v.flying, *f)
	}
	return v
}

// inFlightFrame draws the block of the steps in flight: a line of where the
// rollout is, then the oldest steps in flight with their elapsed time and
// what each waits for; "" when nothing is in flight. Each line is cut to
// the terminal's width.
func inFlightFrame(v flightView, o progressOptions) string {
	if len(v.flying) == 0 {
		return ""
	}
	width := o.width()
	if width <= 0 {
		width = 80
	}
	var b strings.Builder
	head := fmt.Sprintf("%d of %d steps done, %d in flight:", v.ended, v.total, len(v.flying))
	b.WriteString(cut(paint(head, ansiBold, o.color), head, width) + "\n")
	shown := v.flying[:min(len(v.flying), max(o.maxInFlight, 1))]
	// Columns: the targets shown are padded to the longest of them.
	targetWidth := 0
	for _, f := range shown {
		targetWidth = max(targetWidth, len([]rune(f.step.Target.String())))
	}
	for _, f := range shown {
		elapsed := v.now.Sub(f.start).Truncate(time.Second)
		l := fmt.Sprintf("  %5s  %-11s %-7s %-*s  %s", elapsed, f.step.Phase, f.step.Action, targetWidth, f.step.Target, status.OneLine(orUnderWay(f.waiting)))
		b.WriteString(cut(l, l, width) + "\n")
	}
	if more := len(v.flying) - len(shown); more > 0 {
		fmt.Fprintf(&b, "  and %d more\n", more)
	}
	return b.String()
}

// cut shortens s to width columns of plain text (plain is s without its
// colour codes); a coloured line is left whole when it fits.
func cut(s, plain string, width int) string {
	r := []rune(plain)
	if len(r) <= width {
		return s
	}
	return string(r[:width-1]) + "…"
}

func orUnderWay(waiting string) string {
	if waiting == "" {
		return "under way"
	}
	return waiting
}

// progressLine is one line of a step's progress: position, phase, action,
// status, target, elapsed time and message.
func progressLine(pos string, s plan.Step, st apply.EventStatus, elapsed time.Duration, msg string, color bool) string {
	line := fmt.Sprintf("%-9s %-11s %-7s %s %s", pos, s.Phase, s.Action, paint(fmt.Sprintf("%-8s", st), statusColor(st), color), s.Target)
	if elapsed > 0 {
		line += fmt.Sprintf(" (%s)", elapsed.Round(time.Millisecond))
	}
	if msg != "" {
		line += ": " + status.OneLine(msg)
	}
	return line
}

const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
)

func statusColor(st apply.EventStatus) string {
	switch st {
	case apply.StepDone:
		return ansiGreen
	case apply.StepFailed:
		return ansiRed
	case apply.StepRollback:
		return ansiYellow
	}
	return ""
}

// paint colours s when color is on.
func paint(s, code string, color bool) string {
	if !color || code == "" {
		return s
	}
	return code + s + ansiReset
}
