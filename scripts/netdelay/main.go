//go:build linux

// Command netdelay is a userspace delay wire for scripts/bench-swift.sh on a
// kernel without the netem qdisc: it creates two TUN devices and forwards
// every packet that one of them sends to the other, a fixed delay later, in
// both directions (a delay line: see line). Moved into two network
// namespaces and given addresses (ip link set DEV netns NS), the devices are
// the two ends of a point-to-point link with a round trip of twice the delay.
// Both in one namespace, with routes that send packets for the namespace's
// own addresses out of one of them (and accept_local on both), they delay the
// traffic between the namespace's processes, as netem on lo would: that is
// how scripts/bench-swift.sh uses them.
//
// The devices offer TSO and checksum offload (IFF_VNET_HDR, TUNSETOFFLOAD),
// as a virtio NIC does: at their usual MTU of 1500, TCP still counts its
// window in real 1448-byte segments (slow start included), but hands over up
// to 64 KiB of them at once with a virtio_net_hdr in front, and netdelay
// passes that header and packet through untouched to the other device, whose
// kernel receives it as one GRO packet. So hundreds of MB/s cost a few
// thousand packets per second through userspace, not a hundred thousand. (At
// an MTU of 65535, the most a TUN device takes and what scripts/bench-swift.sh
// sets to match lo, a packet is up to 64 KiB by itself.)
//
//	netdelay -a mbdA -b mbdB -delay 10ms
//
// It prints "ready" on stdout once both devices exist, runs until SIGTERM or
// SIGINT, then closes the devices (which removes them), prints what it
// forwarded on stderr and exits 0. Needs root (CAP_NET_ADMIN) and
// /dev/net/tun. Nothing it does outlives it.
package main

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

func main() {
	nameA := flag.String("a", "mbdA", "name of the first TUN device")
	nameB := flag.String("b", "mbdB", "name of the second TUN device")
	delay := flag.Duration("delay", 10*time.Millisecond, "one-way delay, each direction")
	queue := flag.Int("queue", 2048, "packets on the line per direction; when full, the sender waits")
	flag.Parse()
	if err := run(*nameA, *nameB, *delay, *queue); err != nil {
		fmt.Fprintln(os.Stderr, "netdelay:", err)
		os.Exit(1)
	}
}

// run creates the two devices, forwards between them until SIGTERM or
// SIGINT (nil) or until a line fails (its error), then removes them.
func run(nameA, nameB string, delay time.Duration, queue int) error {
	if delay < 0 || queue < 1 || flag.NArg() > 0 {
		return fmt.Errorf("usage: netdelay [-a DEV] [-b DEV] [-delay D>=0] [-queue N>=1]")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	a, err := openTUN(nameA)
	if err != nil {
		return err
	}
	defer a.Close()
	b, err := openTUN(nameB)
	if err != nil {
		return err
	}
	defer b.Close()

	ab := &line{delay: delay, queue: queue}
	ba := &line{delay: delay, queue: queue}
	errc := make(chan error, 2)
	var wg sync.WaitGroup
	for _, d := range []struct {
		l        *line
		src, dst *os.File
	}{{ab, a, b}, {ba, b, a}} {
		wg.Go(func() {
			if err := d.l.run(d.src, d.dst); err != nil {
				errc <- fmt.Errorf("%s -> %s: %w", d.src.Name(), d.dst.Name(), err)
			}
		})
	}
	fmt.Printf("netdelay: %s <-> %s, %v each way: ready\n", nameA, nameB, delay)

	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	a.Close() // ends both lines
	b.Close()
	wg.Wait()
	fmt.Fprintf(os.Stderr, "netdelay: forwarded %s->%s %d packets (%d dropped), %s->%s %d (%d dropped)\n",
		nameA, nameB, ab.forwarded.Load(), ab.dropped.Load(), nameB, nameA, ba.forwarded.Load(), ba.dropped.Load())
	return err
}

// TUNSETOFFLOAD features (linux/if_tun.h; the syscall package lacks them).
const (
	tunFCSUM = 0x01 // packets may come with their checksum left to do
	tunFTSO4 = 0x02 // TSO for IPv4
	tunFTSO6 = 0x04 // TSO for IPv6
)

// openTUN creates (or attaches to) the layer-3 TUN device name, without the
// packet-information header and with TSO: every read is a virtio_net_hdr and
// one IP packet of up to 64 KiB (a TSO packet stands for several segments),
// and a write takes the same. The returned file is non-blocking (reads wait
// in the runtime's poller, and Close interrupts them); closing it removes the
// device.
func openTUN(name string) (*os.File, error) {
	if name == "" || len(name) >= syscall.IFNAMSIZ {
		return nil, fmt.Errorf("TUN device name %q: want 1 to %d bytes", name, syscall.IFNAMSIZ-1)
	}
	fd, err := syscall.Open("/dev/net/tun", syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/net/tun (needs root and CONFIG_TUN): %w", err)
	}
	// struct ifreq: the name, then a union of which ifr_flags (a short) is used.
	var req [syscall.IFNAMSIZ + 24]byte
	copy(req[:], name)
	binary.NativeEndian.PutUint16(req[syscall.IFNAMSIZ:], syscall.IFF_TUN|syscall.IFF_NO_PI|syscall.IFF_VNET_HDR)
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.TUNSETIFF, uintptr(unsafe.Pointer(&req[0]))); e != 0 {
		syscall.Close(fd)
		return nil, fmt.Errorf("create TUN device %q (TUNSETIFF): %w", name, e)
	}
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.TUNSETOFFLOAD, tunFCSUM|tunFTSO4|tunFTSO6); e != 0 {
		syscall.Close(fd)
		return nil, fmt.Errorf("TUN device %q: enable TSO (TUNSETOFFLOAD): %w", name, e)
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("TUN device %q: set non-blocking: %w", name, err)
	}
	return os.NewFile(uintptr(fd), name), nil
}
