package kubelet

import (
	"fmt"
	"net/netip"
)

// ipAllocator hands out pod IPs from one prefix, each to one pod at a time. Not safe for concurrent
// use: the Kubelet guards it with its mutex.
type ipAllocator struct {
	prefix netip.Prefix
	next   netip.Addr
	used   map[netip.Addr]string // address → owner (pod key)
}

func newIPAllocator(prefix netip.Prefix) (*ipAllocator, error) {
	if !prefix.IsValid() {
		return nil, fmt.Errorf("pod CIDR %v is not a valid prefix", prefix)
	}
	prefix = prefix.Masked()
	if prefix.Addr().BitLen()-prefix.Bits() < 2 {
		return nil, fmt.Errorf("pod CIDR %v is too small", prefix)
	}
	return &ipAllocator{prefix: prefix, next: prefix.Addr().Next(), used: map[netip.Addr]string{}}, nil
}

// usable reports whether ip may be given to a pod: inside the prefix and neither its network
// address nor its last (broadcast-like) address.
func (a *ipAllocator) usable(ip netip.Addr) bool {
	if !a.prefix.Contains(ip) || ip == a.prefix.Addr() {
		return false
	}
	return a.prefix.Contains(ip.Next())
}

// Claim gives ip to owner if it is usable and free (used to keep the IP a pod already reports when
// the simulator restarts). It reports whether it did.
func (a *ipAllocator) Claim(ip netip.Addr, owner string) bool {
	if !a.usable(ip) {
		return false
	}
	if cur, ok := a.used[ip]; ok {
		return cur == owner
	}
	a.used[ip] = owner
	return true
}

// Allocate returns the next free address, round-robin so that a freed address is not reused at once
// (a pod recreated under the same name then gets a new IP, as on a real cluster).
func (a *ipAllocator) Allocate(owner string) (netip.Addr, error) {
	start := a.next
	for ip := start; ; {
		if a.usable(ip) {
			if _, taken := a.used[ip]; !taken {
				a.used[ip] = owner
				a.next = ip.Next()
				return ip, nil
			}
		}
		ip = ip.Next()
		if !a.prefix.Contains(ip) {
			ip = a.prefix.Addr().Next()
		}
		if ip == start {
			return netip.Addr{}, fmt.Errorf("pod CIDR %v exhausted (%d pods)", a.prefix, len(a.used))
		}
	}
}

// Release frees ip if owner holds it.
func (a *ipAllocator) Release(ip netip.Addr, owner string) {
	if cur, ok := a.used[ip]; ok && cur == owner {
		delete(a.used, ip)
	}
}
