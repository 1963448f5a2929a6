/* The previous layout (four LPM tries), frozen: couic-lpm.bpf.c is kept to test the
 * upgrade from its pinned maps and as the benchmark's "old LPM tries" baseline. */
#ifndef COUIC_LPM_H
#define COUIC_LPM_H

#define COUIC_DROP_MAX_ENTRIES 262144
#define COUIC_IGNORE_MAX_ENTRIES 65536

/* Tag counter slots: 0 = untagged, 1..254 = one tag each (allocated by userspace),
 * 255 = every tag beyond the 254 tracked ones ("untracked"). */
#define COUIC_TAG_SLOTS 256
#define COUIC_TAG_UNTAGGED 0
#define COUIC_TAG_UNTRACKED 255
#define COUIC_TAG_NAME_LEN 80

/* Number of XDP actions counted (XDP_ABORTED .. XDP_REDIRECT = 0..4). */
#define COUIC_ACTIONS 5

struct couic_key_v4 {
	__u32 prefixlen;
	__u8 addr[4];
};

struct couic_key_v6 {
	__u32 prefixlen;
	__u8 addr[16];
};

/* Value of every LPM entry: which tag slot its hits count under. */
struct couic_rule {
	__u32 tag;
};

struct couic_counter {
	__u64 packets;
	__u64 bytes;
};

/* The one value of `empty_tries`, written by the loader: nonzero = that trie is
 * known to be empty, so the program skips its lookup (an LPM lookup is a call
 * into the kernel, the costliest step; see bpf/README.md). Zero, the state of a
 * fresh map, means "look it up": always correct, only slower. */
struct couic_empty_tries {
	__u32 drop_v4;
	__u32 drop_v6;
	__u32 ignore_v4;
	__u32 ignore_v6;
};

struct couic_tag_name {
	char name[COUIC_TAG_NAME_LEN];
};

#endif
