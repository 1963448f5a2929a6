// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/* couic's XDP program: for every IPv4/IPv6 frame (behind up to two 802.1Q/802.1ad
 * tags), reads the verdict of its source address from tables userspace compiled
 * from the rules (longest prefix and ignore-over-drop already resolved), so that
 * the decision costs one or two inlined array loads (IPv6 prefixes longer than /24:
 * a hash probe per prefix length in use). Ignore: XDP_PASS; drop: XDP_DROP; no rule
 * or a frame it cannot parse: XDP_PASS. Counts packets and bytes per action and per
 * tag slot of the deciding rule. Maps are pinned by the daemon so the filter keeps
 * running while it restarts.
 *
 * COUIC_NO_LOOKUP builds the benchmark's lookup-free baseline: the same parse,
 * key and counters, with a fixed verdict instead of the table reads. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "couic.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* Mapped into the daemon (BPF_F_MMAPABLE): userspace writes slots with plain
 * aligned stores, so a slot flips from its old to its new value in one store. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, COUIC_TOP_ROWS);
	__type(key, __u32);
	__type(value, struct couic_row);
} v4_top SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, COUIC_V4_BLOCKS);
	__type(key, __u32);
	__type(value, struct couic_block);
} v4_blocks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, COUIC_TOP_ROWS);
	__type(key, __u32);
	__type(value, struct couic_row);
} v6_top SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, COUIC_V6_SLOTS);
	__type(key, __u32);
	__type(value, struct couic_v6_entry);
} v6_long SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, COUIC_V6_LENGTH_SETS);
	__type(key, __u32);
	__type(value, struct couic_v6_lengths);
} v6_lengths SEC(".maps");

/* Read and written only by userspace: which rules the tables hold (restart).
 * Preallocated: loading 589,824 rules allocates nothing per rule. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, COUIC_RULE_RECORD_ENTRIES);
	__type(key, struct couic_rule_key);
	__type(value, __u32);
} rule_record SEC(".maps");

/* Index = kernel XDP action value (XDP_ABORTED=0 ... XDP_REDIRECT=4). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, COUIC_ACTIONS);
	__type(key, __u32);
	__type(value, struct couic_counter);
} xdp_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, COUIC_TAG_SLOTS);
	__type(key, __u32);
	__type(value, struct couic_counter);
} drop_tags SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, COUIC_TAG_SLOTS);
	__type(key, __u32);
	__type(value, struct couic_counter);
} ignore_tags SEC(".maps");

/* Slot -> tag name; written and read only by userspace (keeps the allocation
 * across daemon restarts, pinned with the rest). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, COUIC_TAG_SLOTS);
	__type(key, __u32);
	__type(value, struct couic_tag_name);
} tag_names SEC(".maps");

#define ETH_P_8021Q_BE bpf_htons(0x8100)
#define ETH_P_8021AD_BE bpf_htons(0x88A8)

struct vlan_hdr {
	__be16 tci;
	__be16 encapsulated_proto;
};

/* Per-CPU array lookups are inlined by the verifier (no call): cheap. */
static __always_inline void count(void *map, __u32 index, __u64 bytes)
{
	struct couic_counter *c = bpf_map_lookup_elem(map, &index);
	if (c) {
		c->packets += 1;
		c->bytes += bytes;
	}
}

static __always_inline __u32 finish(__u32 action, __u64 bytes)
{
	count(&xdp_stats, action, bytes);
	return action;
}

/* Acts on a compiled verdict. */
static __always_inline __u32 verdict(__u32 value, __u64 bytes)
{
	__u32 kind = (value >> COUIC_VERDICT_SHIFT) & 3;
	__u32 tag = value & 0xff;

	if (kind == COUIC_VERDICT_IGNORE) {
		count(&ignore_tags, tag, bytes);
		return finish(XDP_PASS, bytes);
	}
	if (kind == COUIC_VERDICT_DROP) {
		count(&drop_tags, tag, bytes);
		return finish(XDP_DROP, bytes);
	}
	return finish(XDP_PASS, bytes);
}

#ifdef COUIC_NO_LOOKUP
/* A verdict the compiler cannot fold (drop, tag slot 1), derived from nothing. */
static __always_inline __u32 opaque_verdict(void)
{
	__u32 value;
	asm volatile("%[v] = 257" : [v] "=r"(value));
	return value;
}
#endif

#ifndef COUIC_NO_LOOKUP
static __always_inline __u32 top_slot(void *top, __u32 top24)
{
	__u32 row_index = top24 >> 8;
	struct couic_row *row = bpf_map_lookup_elem(top, &row_index);
	return row ? row->slot[top24 & 0xff] : 0;
}

static __always_inline __u32 lookup_v4(__u32 addr)
{
	__u32 value = top_slot(&v4_top, addr >> 8);
	if (value & COUIC_SLOT_DEEPER) {
		__u32 index = value & ~COUIC_SLOT_DEEPER;
		struct couic_block *block = bpf_map_lookup_elem(&v4_blocks, &index);
		value = block ? block->slot[addr & 0xff] : 0;
	}
	return value;
}

static __always_inline __u64 prefix_mask(__u32 bits)
{
	if (bits >= 64)
		return ~0ULL;
	if (bits == 0)
		return 0;
	return ~0ULL << (64 - bits);
}

/* The v6_long hash of a masked prefix; src/dataplane/xdp/v6-table.ts has its twin. */
static __always_inline __u32 v6_hash(__u32 a, __u32 b, __u32 c, __u32 d, __u32 len)
{
	__u32 h = a * 0x9E3779B1u;
	h ^= b * 0x85EBCA77u;
	h = (h << 13) | (h >> 19);
	h ^= c * 0xC2B2AE3Du;
	h ^= d * 0x27D4EB2Fu;
	h ^= len * 0x165667B1u;
	h ^= h >> 15;
	h *= 0x2C1B3C6Du;
	h ^= h >> 12;
	return h;
}

/* The entry of a masked prefix in one 4-entry window, or 0 (no entry). */
static __always_inline __u32 v6_window(__u32 start, __u32 a, __u32 b, __u32 c, __u32 d, __u32 len, __u32 *value)
{
#pragma unroll
	for (int j = 0; j < COUIC_V6_WINDOW; j++) {
		__u32 index = (start + j) & (COUIC_V6_SLOTS - 1);
		struct couic_v6_entry *e = bpf_map_lookup_elem(&v6_long, &index);
		if (!e || e->prefixlen != len)
			continue;
		/* prefixlen is published last: the words read after it are complete. */
		asm volatile("" ::: "memory");
		if (e->words[0] == a && e->words[1] == b && e->words[2] == c && e->words[3] == d) {
			*value = e->value;
			return 1;
		}
	}
	return 0;
}

static __always_inline __u32 lookup_v6(const __u8 *saddr)
{
	__u32 top24 = ((__u32)saddr[0] << 16) | ((__u32)saddr[1] << 8) | saddr[2];
	__u32 value = top_slot(&v6_top, top24);
	if (!(value & COUIC_SLOT_DEEPER))
		return value;
	__u32 set = (value >> COUIC_V6_SET_SHIFT) & COUIC_V6_SET_MASK;
	struct couic_v6_lengths *lengths = bpf_map_lookup_elem(&v6_lengths, &set);
	if (!lengths)
		return value & COUIC_VERDICT_MASK;
	__u64 hi, lo;
	__builtin_memcpy(&hi, saddr, 8);
	__builtin_memcpy(&lo, saddr + 8, 8);
	hi = bpf_be64_to_cpu(hi);
	lo = bpf_be64_to_cpu(lo);
	for (int i = 0; i < COUIC_V6_LENGTHS; i++) {
		__u32 len = lengths->len[i];
		if (len == 0)
			break;
		__u64 h = hi & prefix_mask(len);
		__u64 l = lo & prefix_mask(len > 64 ? len - 64 : 0);
		__u32 a = h >> 32, b = (__u32)h, c = l >> 32, d = (__u32)l;
		__u32 hash = v6_hash(a, b, c, d, len);
		__u32 hit;
		if (v6_window(hash, a, b, c, d, len, &hit))
			return hit;
		if (v6_window((hash * 0x297A2D39u) ^ (hash >> 16), a, b, c, d, len, &hit))
			return hit;
	}
	return value & COUIC_VERDICT_MASK;
}
#endif

SEC("xdp")
int couic_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 bytes = data_end - data;
	struct ethhdr *eth = data;
	void *cursor;
	__be16 proto;

	if ((void *)(eth + 1) > data_end)
		return finish(XDP_PASS, bytes);
	proto = eth->h_proto;
	cursor = eth + 1;

#pragma unroll
	for (int i = 0; i < 2; i++) {
		if (proto != ETH_P_8021Q_BE && proto != ETH_P_8021AD_BE)
			break;
		struct vlan_hdr *vlan = cursor;
		if ((void *)(vlan + 1) > data_end)
			return finish(XDP_PASS, bytes);
		proto = vlan->encapsulated_proto;
		cursor = vlan + 1;
	}

	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = cursor;
		if ((void *)(ip + 1) > data_end)
			return finish(XDP_PASS, bytes);
		__u32 addr = bpf_ntohl(ip->saddr);
#ifdef COUIC_NO_LOOKUP
		asm volatile("" : : "r"(addr) : "memory");
		return verdict(opaque_verdict(), bytes);
#else
		return verdict(lookup_v4(addr), bytes);
#endif
	}
	if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = cursor;
		if ((void *)(ip6 + 1) > data_end)
			return finish(XDP_PASS, bytes);
		__u8 saddr[16];
		__builtin_memcpy(saddr, &ip6->saddr, 16);
#ifdef COUIC_NO_LOOKUP
		asm volatile("" : : "r"(saddr) : "memory");
		return verdict(opaque_verdict(), bytes);
#else
		return verdict(lookup_v6(saddr), bytes);
#endif
	}
	return finish(XDP_PASS, bytes);
}
