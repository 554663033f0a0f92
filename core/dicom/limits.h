/* dicomfs core: named limits for untrusted input.
 *
 * Every file is untrusted.  Each limit below turns what would be an unbounded
 * allocation or recursion into a DFS_ERROR_LIMIT error naming the limit. */
#pragma once

/* Sequence/item nesting.  Real files nest fewer than 10 levels; the parser is
 * iterative, so this bounds memory, not stack. */
#define DFS_LIMIT_DEPTH 64

/* Elements in one file (items and delimiters count).  Each element takes at
 * least 8 bytes of the file, so this is reached only by huge files. */
#define DFS_LIMIT_ELEMENTS (1u << 24)

/* Bytes a Deflated Explicit VR Little Endian data set may inflate to, and the
 * largest ratio of inflated to compressed size (a decompression bomb guard). */
#define DFS_LIMIT_INFLATED_BYTES (1024u * 1024u * 1024u)
#define DFS_LIMIT_INFLATE_RATIO 1032u

/* Images: rows x columns, frames, and bytes of one decoded frame. */
#define DFS_LIMIT_IMAGE_PIXELS (1u << 28)
#define DFS_LIMIT_FRAMES 100000u
#define DFS_LIMIT_FRAME_BYTES (1024u * 1024u * 1024u)

/* First read of a header-only parse; grown by doubling as the parser needs. */
#define DFS_HEADER_FIRST_READ 8192u
