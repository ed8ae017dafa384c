package io.rocketkv.core.tokenizer;

/**
 * UTF-8 decoding with Rust's rules: {@code String::from_utf8} (strict) and
 * {@code String::from_utf8_lossy}, which replaces each maximal invalid subpart with one U+FFFD.
 */
final class Utf8 {
    private Utf8() {
    }

    /** Decodes {@code bytes[0, length)}; invalid sequences become U+FFFD, or {@code null} when strict. */
    static String decode(byte[] bytes, int length, boolean strict) {
        StringBuilder out = new StringBuilder(length);
        int i = 0;
        while (i < length) {
            int b0 = bytes[i] & 0xFF;
            if (b0 < 0x80) {
                out.append((char) b0);
                i++;
                continue;
            }
            int width;
            int lo = 0x80;
            int hi = 0xBF;
            if (b0 >= 0xC2 && b0 <= 0xDF) {
                width = 2;
            } else if (b0 >= 0xE0 && b0 <= 0xEF) {
                width = 3;
                if (b0 == 0xE0) {
                    lo = 0xA0;
                } else if (b0 == 0xED) {
                    hi = 0x9F;
                }
            } else if (b0 >= 0xF0 && b0 <= 0xF4) {
                width = 4;
                if (b0 == 0xF0) {
                    lo = 0x90;
                } else if (b0 == 0xF4) {
                    hi = 0x8F;
                }
            } else {
                width = 0;
            }
            int valid = width == 0 ? 1 : validPrefix(bytes, i, length, width, lo, hi);
            if (valid < width || width == 0) {
                if (strict) {
                    return null;
                }
                out.append('\uFFFD');
                i += valid;
                continue;
            }
            int cp = switch (width) {
                case 2 -> ((b0 & 0x1F) << 6) | (bytes[i + 1] & 0x3F);
                case 3 -> ((b0 & 0x0F) << 12) | ((bytes[i + 1] & 0x3F) << 6) | (bytes[i + 2] & 0x3F);
                default -> ((b0 & 0x07) << 18) | ((bytes[i + 1] & 0x3F) << 12)
                        | ((bytes[i + 2] & 0x3F) << 6) | (bytes[i + 3] & 0x3F);
            };
            out.appendCodePoint(cp);
            i += width;
        }
        return out.toString();
    }

    /** How many bytes from {@code i} form a valid prefix (at least 1, the lead byte) of a {@code width}-byte sequence. */
    private static int validPrefix(byte[] bytes, int i, int length, int width, int lo, int hi) {
        int k = 1;
        while (k < width && i + k < length) {
            int b = bytes[i + k] & 0xFF;
            int min = k == 1 ? lo : 0x80;
            int max = k == 1 ? hi : 0xBF;
            if (b < min || b > max) {
                break;
            }
            k++;
        }
        return k;
    }

    /**
     * {@code text} with each unpaired surrogate replaced by U+FFFD (a Rust/Python string cannot hold
     * one); the same instance when there is none.
     */
    static String withoutLoneSurrogates(String text) {
        int i = 0;
        while (i < text.length()) {
            char c = text.charAt(i);
            if (!Character.isSurrogate(c)) {
                i++;
            } else if (Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
                i += 2;
            } else {
                break;
            }
        }
        if (i == text.length()) {
            return text;
        }
        StringBuilder out = new StringBuilder(text.length()).append(text, 0, i);
        while (i < text.length()) {
            int cp = text.codePointAt(i);
            i += Character.charCount(cp);
            out.appendCodePoint(Character.isSurrogate((char) cp) && cp < 0x10000 ? 0xFFFD : cp);
        }
        return out.toString();
    }
}
