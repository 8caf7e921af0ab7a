#!/usr/bin/env python3
"""Hit ratio of LRU, CLOCK and SIEVE on one Zipf-like DNS trace with one-time names, entry-count bounded.

Usage: python3 scripts/eviction-sim.py [ZIPF_ALPHA=0.9] [CAPACITY=50000]. It measured the policy the cache uses
(Sources/DNSCache/CacheShard.swift); the figures are in issue 4's closing note.
"""
import random, collections, sys
random.seed(42)
N_NAMES, N_REQ = 500_000, 1_500_000
alpha = float(sys.argv[1]) if len(sys.argv) > 1 else 0.9
weights = [1.0 / (i + 1) ** alpha for i in range(N_NAMES)]
trace = random.choices(range(N_NAMES), weights=weights, k=N_REQ)
# one-hit wonders: 20% of requests are unique names never seen again (like a crawl / typo traffic)
trace = [t if random.random() > 0.2 else N_NAMES + i for i, t in enumerate(trace)]

def lru(cap):
    c = collections.OrderedDict(); h = 0
    for k in trace:
        if k in c: c.move_to_end(k); h += 1
        else:
            c[k] = 1
            if len(c) > cap: c.popitem(last=False)
    return h

def clock(cap):
    slots = []; idx = {}; ref = []; hand = 0; h = 0
    for k in trace:
        i = idx.get(k)
        if i is not None: ref[i] = True; h += 1; continue
        if len(slots) < cap:
            idx[k] = len(slots); slots.append(k); ref.append(False); continue
        while ref[hand]: ref[hand] = False; hand = (hand + 1) % cap
        del idx[slots[hand]]; slots[hand] = k; ref[hand] = False; idx[k] = hand; hand = (hand + 1) % cap
    return h

def sieve(cap):
    newer = {}; older = {}; visited = {}; head = None; tail = None; hand = None; h = 0
    for k in trace:
        if k in visited: visited[k] = True; h += 1; continue
        if len(visited) >= cap:
            p = hand if hand is not None else tail
            while visited[p]:
                visited[p] = False
                p = newer[p] if newer[p] is not None else tail
            hand = newer[p]
            # unlink p
            o, n = older[p], newer[p]
            if o is not None: newer[o] = n
            else: tail = n
            if n is not None: older[n] = o
            else: head = o
            del visited[p], newer[p], older[p]
        visited[k] = False; older[k] = head; newer[k] = None
        if head is not None: newer[head] = k
        head = k
        if tail is None: tail = k
    return h

cap = int(sys.argv[2]) if len(sys.argv) > 2 else 50_000
for name, f in [("LRU", lru), ("CLOCK", clock), ("SIEVE", sieve)]:
    print(f"alpha={alpha} cap={cap} {name}: hit ratio {f(cap) / N_REQ:.4f}", flush=True)
