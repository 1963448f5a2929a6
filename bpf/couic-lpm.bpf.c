// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/* couic's XDP program: for every IPv4/IPv6 frame (behind up to two 802.1Q/802.1ad
 * tags), look the source address up in the ignore trie, then the drop trie.
 * Ignore wins (anti lock-out): XDP_PASS. A drop match: XDP_DROP. Anything else,
 * including frames it cannot parse, passes. Counts packets and bytes per action
 * and per tag slot of the matching rule. Maps are pinned by the daemon so the
 * filter keeps running while it restarts.
 *
 * COUIC_STAGE (default 4, the real program) builds cut-down variants for the
 * benchmark's cost breakdown only (`bench/xdp.ts --breakdown`): 0 parses and
 * passes, 1 adds the ignore lookup, 2 the drop lookup, 3 the action counter,
 * 4 the tag counter. 10 does the drop lookup alone (no ignore, no counters);
 * 11 replaces the tries by one 2^24-entry array indexed by the top 24 bits of an
 * IPv4 source (a design sketch: what an inlined array lookup costs). */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "couic-lpm.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define LPM_MAP(NAME, KEY, SIZE)                            \
	struct {                                                \
		__uint(type, BPF_MAP_TYPE_LPM_TRIE);                \
		__uint(map_flags, BPF_F_NO_PREALLOC);               \
		__uint(max_entries, SIZE);                          \
		__type(key, KEY);                                   \
		__type(value, struct couic_rule);                   \
	} NAME SEC(".maps")

LPM_MAP(drop_v4, struct couic_key_v4, COUIC_DROP_MAX_ENTRIES);
LPM_MAP(drop_v6, struct couic_key_v6, COUIC_DROP_MAX_ENTRIES);
LPM_MAP(ignore_v4, struct couic_key_v4, COUIC_IGNORE_MAX_ENTRIES);
LPM_MAP(ignore_v6, struct couic_key_v6, COUIC_IGNORE_MAX_ENTRIES);

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

/* Which tries are known to be empty (one value, struct couic_empty_tries): their
 * lookups are skipped. Kept by the loader; a fresh map (all zero) skips nothing. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct couic_empty_tries);
} empty_tries SEC(".maps");

/* Slot -> tag name; written and read only by userspace (keeps the allocation
 * across daemon restarts, pinned with the rest). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, COUIC_TAG_SLOTS);
	__type(key, __u32);
	__type(value, struct couic_tag_name);
} tag_names SEC(".maps");

#ifndef COUIC_STAGE
#define COUIC_STAGE 4
#endif

#define ETH_P_8021Q_BE bpf_htons(0x8100)
#define ETH_P_8021AD_BE bpf_htons(0x88A8)

struct vlan_hdr {
	__be16 tci;
	__be16 encapsulated_proto;
};

#if COUIC_STAGE == 11
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1 << 24);
	__type(key, __u32);
	__type(value, struct couic_rule);
} sketch_v4_24 SEC(".maps");
#endif

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
#if COUIC_STAGE >= 3 && COUIC_STAGE < 10
	count(&xdp_stats, action, bytes);
#endif
	return action;
}

static __always_inline __u32 hit(void *tags, struct couic_rule *rule, __u32 action, __u64 bytes)
{
#if COUIC_STAGE >= 4 && COUIC_STAGE < 10
	count(tags, rule->tag < COUIC_TAG_SLOTS ? rule->tag : COUIC_TAG_UNTRACKED, bytes);
#endif
	return finish(action, bytes);
}

/* Ignore first (a match passes: anti lock-out), then drop. A trie the loader
 * marked empty is not looked up. */
static __always_inline __u32 decide(void *ignore, void *drop, __u32 skip_ignore, __u32 skip_drop, void *key, __u64 bytes)
{
	struct couic_rule *rule;

#if COUIC_STAGE == 0
	asm volatile("" : : "r"(key) : "memory");
	return XDP_PASS;
#elif COUIC_STAGE == 10
	rule = bpf_map_lookup_elem(drop, key);
	return rule ? XDP_DROP : XDP_PASS;
#else
	if (!skip_ignore) {
		rule = bpf_map_lookup_elem(ignore, key);
		if (rule)
			return hit(&ignore_tags, rule, XDP_PASS, bytes);
	}
#if COUIC_STAGE >= 2
	if (!skip_drop) {
		rule = bpf_map_lookup_elem(drop, key);
		if (rule)
			return hit(&drop_tags, rule, XDP_DROP, bytes);
	}
#endif
	return finish(XDP_PASS, bytes);
#endif
}

SEC("xdp")
int couic_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 bytes = data_end - data;
	struct ethhdr *eth = data;
	void *cursor;
	__be16 proto;
	__u32 zero = 0;

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

	/* Inlined array lookup; NULL cannot happen (index 0 of a 1-entry array) but
	 * the verifier wants the check: then nothing is skipped. */
	struct couic_empty_tries *empty = bpf_map_lookup_elem(&empty_tries, &zero);

	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = cursor;
		if ((void *)(ip + 1) > data_end)
			return finish(XDP_PASS, bytes);
#if COUIC_STAGE == 11
		struct couic_rule *slot = bpf_map_lookup_elem(&sketch_v4_24, &(__u32){ bpf_ntohl(ip->saddr) >> 8 });
		return slot && slot->tag ? XDP_DROP : XDP_PASS;
#endif
		struct couic_key_v4 key = { .prefixlen = 32 };
		__builtin_memcpy(key.addr, &ip->saddr, 4);
		return decide(&ignore_v4, &drop_v4, empty ? empty->ignore_v4 : 0, empty ? empty->drop_v4 : 0, &key, bytes);
	}
	if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = cursor;
		if ((void *)(ip6 + 1) > data_end)
			return finish(XDP_PASS, bytes);
		struct couic_key_v6 key = { .prefixlen = 128 };
		__builtin_memcpy(key.addr, &ip6->saddr, 16);
		return decide(&ignore_v6, &drop_v6, empty ? empty->ignore_v6 : 0, empty ? empty->drop_v6 : 0, &key, bytes);
	}
	return finish(XDP_PASS, bytes);
}
