package io.rocketkv.core.testing;

/**
 * The OCP 8-bit floating point E4M3 formula, independent of the codec under test: bias 7; normal
 * (−1)^s·2^(e−7)·(1 + m/8), subnormal (e = 0) (−1)^s·2^−6·(m/8); S.1111.111 is NaN; no infinities.
 */
public final class OcpE4m3 {

    private OcpE4m3() {
    }

    /** The value of the code {@code b} (its low 8 bits), NaN for S.1111.111. */
    public static double value(int b) {
        int e = (b >> 3) & 0xF;
        int m = b & 7;
        double v = e == 0xF && m == 7 ? Double.NaN : e == 0 ? Math.pow(2, -6) * m / 8 : Math.pow(2, e - 7) * (1 + m / 8.0);
        return (b & 0x80) != 0 ? -v : v;
    }
}
