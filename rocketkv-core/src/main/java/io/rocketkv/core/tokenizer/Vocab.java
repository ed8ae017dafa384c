package io.rocketkv.core.tokenizer;

import java.util.Arrays;

/**
 * Token string → id, as an open-addressing table that can also be queried with a range of a
 * {@code char[]} or {@code String} (or two ranges taken as one string), so that resolving merges and
 * looking up single characters allocate nothing. Keys hash like {@link String#hashCode}.
 * Filled once while loading, read-only afterwards.
 */
final class Vocab {
    private String[] keys;  // (capacity) token, null when free
    private int[] hashes;   // (capacity) String.hashCode of keys[i]
    private int[] ids;      // (capacity) id of keys[i]
    private int size;
    private int maxId = -1;

    Vocab(int expected) {
        int capacity = Integer.highestOneBit(Math.max(16, expected * 2 - 1)) << 1;
        keys = new String[capacity];
        hashes = new int[capacity];
        ids = new int[capacity];
    }

    int size() {
        return size;
    }

    int maxId() {
        return maxId;
    }

    /** Adds or replaces {@code token}'s id. */
    void put(String token, int id) {
        if ((size + 1) * 2 > keys.length) {
            grow();
        }
        int h = token.hashCode();
        int mask = keys.length - 1;
        int slot = spread(h) & mask;
        while (keys[slot] != null) {
            if (hashes[slot] == h && keys[slot].equals(token)) {
                ids[slot] = id;
                maxId = Math.max(maxId, id);
                return;
            }
            slot = (slot + 1) & mask;
        }
        keys[slot] = token;
        hashes[slot] = h;
        ids[slot] = id;
        size++;
        maxId = Math.max(maxId, id);
    }

    /** The id of {@code token}, or -1. */
    int get(String token) {
        return get(token, 0, token.length());
    }

    /** The id of {@code s[from, to)}, or -1. */
    int get(CharSequence s, int from, int to) {
        int h = 0;
        for (int i = from; i < to; i++) {
            h = 31 * h + s.charAt(i);
        }
        int mask = keys.length - 1;
        for (int slot = spread(h) & mask; keys[slot] != null; slot = (slot + 1) & mask) {
            if (hashes[slot] == h && keys[slot].length() == to - from && regionEquals(keys[slot], 0, s, from, to)) {
                return ids[slot];
            }
        }
        return -1;
    }

    /** The id of {@code s[from, to)}, or -1 (array twin of {@link #get(CharSequence, int, int)}, used while loading). */
    int get(char[] s, int from, int to) {
        return getConcat(s, from, to, to, to);
    }

    /** The id of the string {@code s[from1, to1) + s[from2, to2)}, or -1. */
    int getConcat(char[] s, int from1, int to1, int from2, int to2) {
        int h = 0;
        for (int i = from1; i < to1; i++) {
            h = 31 * h + s[i];
        }
        for (int i = from2; i < to2; i++) {
            h = 31 * h + s[i];
        }
        int length1 = to1 - from1;
        int mask = keys.length - 1;
        for (int slot = spread(h) & mask; keys[slot] != null; slot = (slot + 1) & mask) {
            String key = keys[slot];
            if (hashes[slot] == h && key.length() == length1 + to2 - from2
                    && regionEquals(key, 0, s, from1, to1) && regionEquals(key, length1, s, from2, to2)) {
                return ids[slot];
            }
        }
        return -1;
    }

    /** The id of the string {@code s[from1, to1) + s[from2, to2)}, or -1. */
    int getConcat(CharSequence s, int from1, int to1, int from2, int to2) {
        int h = 0;
        for (int i = from1; i < to1; i++) {
            h = 31 * h + s.charAt(i);
        }
        for (int i = from2; i < to2; i++) {
            h = 31 * h + s.charAt(i);
        }
        int length1 = to1 - from1;
        int mask = keys.length - 1;
        for (int slot = spread(h) & mask; keys[slot] != null; slot = (slot + 1) & mask) {
            String key = keys[slot];
            if (hashes[slot] == h && key.length() == length1 + to2 - from2
                    && regionEquals(key, 0, s, from1, to1) && regionEquals(key, length1, s, from2, to2)) {
                return ids[slot];
            }
        }
        return -1;
    }

    /** Token strings by id ({@code maxId() + 1} entries, null for ids no token has). */
    String[] tokensById() {
        String[] byId = new String[maxId + 1];
        for (int i = 0; i < keys.length; i++) {
            if (keys[i] != null) {
                byId[ids[i]] = keys[i];
            }
        }
        return byId;
    }

    private static boolean regionEquals(String key, int keyFrom, CharSequence s, int from, int to) {
        for (int i = from, k = keyFrom; i < to; i++, k++) {
            if (key.charAt(k) != s.charAt(i)) {
                return false;
            }
        }
        return true;
    }

    private static boolean regionEquals(String key, int keyFrom, char[] s, int from, int to) {
        for (int i = from, k = keyFrom; i < to; i++, k++) {
            if (key.charAt(k) != s[i]) {
                return false;
            }
        }
        return true;
    }

    private static int spread(int h) {
        int x = h * 0x9E3779B9;
        return x ^ (x >>> 16);
    }

    private void grow() {
        String[] oldKeys = keys;
        int[] oldHashes = hashes;
        int[] oldIds = ids;
        keys = new String[oldKeys.length * 2];
        hashes = new int[keys.length];
        ids = new int[keys.length];
        int mask = keys.length - 1;
        for (int i = 0; i < oldKeys.length; i++) {
            if (oldKeys[i] != null) {
                int slot = spread(oldHashes[i]) & mask;
                while (keys[slot] != null) {
                    slot = (slot + 1) & mask;
                }
                keys[slot] = oldKeys[i];
                hashes[slot] = oldHashes[i];
                ids[slot] = oldIds[i];
            }
        }
        Arrays.fill(oldKeys, null);
    }
}
