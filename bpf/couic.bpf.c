// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/* couic's XDP program: for every IPv4/IPv6 frame (behind up to two 802.1Q/802.1ad
 * tags), look the source address up in the ignore trie, then the drop trie.
 * Ignore wins (anti lock-out): XDP_PASS. A drop match: XDP_DROP. Anything else,
 * including frames it cannot parse, passes. Counts packets and bytes per action
 * and per tag slot of the matching rule. Maps are pinned by the daemon so the
 * filter keeps running while it restarts. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "couic.h"

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

static __always_inline __u32 verdict(struct couic_rule *ignored, struct couic_rule *dropped, __u64 bytes)
{
	if (ignored) {
		count(&ignore_tags, ignored->tag < COUIC_TAG_SLOTS ? ignored->tag : COUIC_TAG_UNTRACKED, bytes);
		return finish(XDP_PASS, bytes);
	}
	if (dropped) {
		count(&drop_tags, dropped->tag < COUIC_TAG_SLOTS ? dropped->tag : COUIC_TAG_UNTRACKED, bytes);
		return finish(XDP_DROP, bytes);
	}
	return finish(XDP_PASS, bytes);
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
		struct couic_key_v4 key = { .prefixlen = 32 };
		__builtin_memcpy(key.addr, &ip->saddr, 4);
		struct couic_rule *ignored = bpf_map_lookup_elem(&ignore_v4, &key);
		struct couic_rule *dropped = ignored ? 0 : bpf_map_lookup_elem(&drop_v4, &key);
		return verdict(ignored, dropped, bytes);
	}
	if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = cursor;
		if ((void *)(ip6 + 1) > data_end)
			return finish(XDP_PASS, bytes);
		struct couic_key_v6 key = { .prefixlen = 128 };
		__builtin_memcpy(key.addr, &ip6->saddr, 16);
		struct couic_rule *ignored = bpf_map_lookup_elem(&ignore_v6, &key);
		struct couic_rule *dropped = ignored ? 0 : bpf_map_lookup_elem(&drop_v6, &key);
		return verdict(ignored, dropped, bytes);
	}
	return finish(XDP_PASS, bytes);
}
