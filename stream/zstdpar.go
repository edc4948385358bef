package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/zstd"
)

// zstdChunkSize is the raw size of each zstd frame the parallel encoder
// writes. Frames are independent, so Concurrency of them are compressed at
// once (the streaming encoder would run one frame on one core); only every
// FrameSize'th raw byte is recorded as a Frame, which keeps the manifest
// small.
const zstdChunkSize = 4 << 20

// zstdParallel compresses chunks of raw bytes into independent zstd frames
// on several goroutines and writes them to w in order. Memory is bounded by
// 2 x (workers + 2) chunks.
type zstdParallel struct {
	enc     *zstd.Encoder
	w       io.Writer // counted: the offset of each frame is read from it
	offset  func() int64
	workers int

	jobs    chan *zjob
	order   chan *zjob // jobs in submission order, for the writer
	free    chan *zjob
	wg      sync.WaitGroup
	wdone   chan error
	onFrame func(raw, compressed int64) // called for recorded frame starts
	record  func(raw int64) bool
	aborted atomic.Bool // set by Abort: the writer writes nothing more
	cur     *zjob
	raw     int64
	failed  error
	closeMu sync.Once
}

type zjob struct {
	rawOff int64
	in     []byte
	out    []byte
	done   chan struct{}
}

func newZstdParallel(c Compression, w io.Writer, offset func() int64, record func(raw int64) bool,
	onFrame func(raw, compressed int64)) (*zstdParallel, error) {
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(c.Level)),
		zstd.WithEncoderConcurrency(max(c.Concurrency, 1)), // EncodeAll takes one of these encoders per call
		zstd.WithZeroFrames(true),
		zstd.WithWindowSize(zstdChunkSize))
	if err != nil {
		return nil, err
	}
	workers := max(c.Concurrency, 1)
	z := &zstdParallel{
		enc: enc, w: w, offset: offset, workers: workers,
		jobs:   make(chan *zjob, workers),
		order:  make(chan *zjob, workers+2),
		free:   make(chan *zjob, workers+2),
		wdone:  make(chan error, 1),
		record: record, onFrame: onFrame,
	}
	for i := 0; i < workers+2; i++ {
		z.free <- &zjob{in: make([]byte, 0, zstdChunkSize), done: make(chan struct{}, 1)}
	}
	for i := 0; i < workers; i++ {
		z.wg.Add(1)
		go func() {
			defer z.wg.Done()
			for j := range z.jobs {
				j.out = z.enc.EncodeAll(j.in, j.out[:0])
				j.done <- struct{}{}
			}
		}()
	}
	go func() {
		var err error
		for j := range z.order {
			<-j.done
			if err == nil && z.aborted.Load() {
				err = errors.New("aborted")
			}
			if err == nil {
				if z.record(j.rawOff) {
					z.onFrame(j.rawOff, z.offset())
				}
				if _, werr := z.w.Write(j.out); werr != nil {
					err = werr
				}
			}
			j.in = j.in[:0]
			z.free <- j
		}
		z.wdone <- err
	}()
	return z, nil
}

// Write buffers p into chunks and hands full chunks to the workers. It
// blocks when workers+2 chunks are in flight.
func (z *zstdParallel) Write(ctx context.Context, p []byte) error {
	for len(p) > 0 {
		if z.cur == nil {
			select {
			case z.cur = <-z.free:
			case <-ctx.Done():
				return ctx.Err()
			}
			z.cur.rawOff = z.raw
		}
		n := copy(z.cur.in[len(z.cur.in):cap(z.cur.in)], p)
		z.cur.in = z.cur.in[:len(z.cur.in)+n]
		z.raw += int64(n)
		p = p[n:]
		if len(z.cur.in) == cap(z.cur.in) {
			if err := z.submit(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// Cut ends the current chunk early (at a recorded frame boundary).
func (z *zstdParallel) Cut(ctx context.Context) error {
	if z.cur != nil && len(z.cur.in) > 0 {
		return z.submit(ctx)
	}
	return nil
}

func (z *zstdParallel) submit(ctx context.Context) error {
	j := z.cur
	z.cur = nil
	select {
	case z.order <- j:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case z.jobs <- j:
	case <-ctx.Done():
		j.out = j.out[:0]
		j.done <- struct{}{} // the writer is waiting for it
		return ctx.Err()
	}
	return nil
}

// Close flushes the last chunk, waits for every frame to be written and
// returns the first write error. An empty stream still gets one (empty)
// frame, so that the output is a valid zstd stream.
func (z *zstdParallel) Close(ctx context.Context) error {
	var err error
	if z.raw == 0 && z.cur == nil {
		select {
		case z.cur = <-z.free:
			z.cur.rawOff = 0
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if err == nil && z.cur != nil {
		err = z.submit(ctx)
	}
	if err == nil {
		err = z.finish()
	} else {
		z.Abort()
	}
	if err != nil {
		return fmt.Errorf("zstd: %w", err)
	}
	return nil
}

// finish waits for the queued frames to be written and stops the
// goroutines.
func (z *zstdParallel) finish() error {
	z.closeMu.Do(func() {
		close(z.jobs)
		z.wg.Wait()
		close(z.order)
		z.failed = <-z.wdone
	})
	return z.failed
}

// Abort stops the goroutines (jobs already queued are finished first) and
// returns the writer's first error. It may be called more than once.
func (z *zstdParallel) Abort() error {
	z.closeMu.Do(func() {
		z.aborted.Store(true)
		close(z.jobs)
		z.wg.Wait()
		close(z.order)
		z.failed = <-z.wdone
	})
	return z.failed
}
