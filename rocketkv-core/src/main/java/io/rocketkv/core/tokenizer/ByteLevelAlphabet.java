package io.rocketkv.core.tokenizer;

/**
 * GPT-2's {@code bytes_to_unicode}: every byte is shown as a printable character so that byte-level
 * BPE vocabularies are strings. Printable Latin-1 bytes ({@code '!'..'~'}, {@code '¡'..'¬'},
 * {@code '®'..'ÿ'}) map to themselves; the other 68 bytes map to U+0100 + n in byte order.
 */
final class ByteLevelAlphabet {
    /** byte (0..255) → its character. */
    private static final char[] BYTE_TO_CHAR = new char[256];
    /** character (0..0x143) → its byte, or -1. */
    private static final int[] CHAR_TO_BYTE = new int[0x144];

    static {
        java.util.Arrays.fill(CHAR_TO_BYTE, -1);
        int n = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            char c = printable ? (char) b : (char) (0x100 + n++);
            BYTE_TO_CHAR[b] = c;
            CHAR_TO_BYTE[c] = b;
        }
    }

    private ByteLevelAlphabet() {
    }

    /** The UTF-8 bytes of {@code text}, each shown as its byte-level character. */
    static String encode(String text) {
        StringBuilder out = new StringBuilder(text.length() + 8);
        for (int i = 0; i < text.length(); ) {
            int cp = text.codePointAt(i);
            i += Character.charCount(cp);
            if (cp < 0x80) {
                out.append(BYTE_TO_CHAR[cp]);
            } else if (cp < 0x800) {
                out.append(BYTE_TO_CHAR[0xC0 | (cp >> 6)]).append(BYTE_TO_CHAR[0x80 | (cp & 0x3F)]);
            } else if (cp < 0x10000) {
                if (Character.isSurrogate((char) cp)) {
                    cp = 0xFFFD; // a lone surrogate cannot be UTF-8; Rust strings never hold one
                }
                out.append(BYTE_TO_CHAR[0xE0 | (cp >> 12)]).append(BYTE_TO_CHAR[0x80 | ((cp >> 6) & 0x3F)])
                        .append(BYTE_TO_CHAR[0x80 | (cp & 0x3F)]);
            } else {
                out.append(BYTE_TO_CHAR[0xF0 | (cp >> 18)]).append(BYTE_TO_CHAR[0x80 | ((cp >> 12) & 0x3F)])
                        .append(BYTE_TO_CHAR[0x80 | ((cp >> 6) & 0x3F)]).append(BYTE_TO_CHAR[0x80 | (cp & 0x3F)]);
            }
        }
        return out.toString();
    }

    /** The byte shown as {@code c}, or -1 when {@code c} is not a byte-level character. */
    static int byteOf(char c) {
        return c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
    }
}
