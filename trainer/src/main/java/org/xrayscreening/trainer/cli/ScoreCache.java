package org.xrayscreening.trainer.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;

import java.util.Map;
import java.util.TreeMap;
import org.xrayscreening.trainer.Json;
import org.xrayscreening.trainer.dataset.PreparedImages;

/**
 * Scores of one model version on one split, kept between {@code evaluate} runs (scoring is the slow part on a
 * CPU): the key covers the version's file checksums, the split digest and the split name, so a cached file
 * is only reused for exactly the same weights and images. Lines: {@code split,file,p_covid} (exact floats).
 */
final class ScoreCache {
    private ScoreCache() {}

    static String key(String splitDigest, String split, Map<String, String> files) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update((splitDigest + "|" + split + "|" + new TreeMap<>(files)).getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(md.digest()).substring(0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The cached scores for exactly these images, or null. */
    static float[][] read(Path file, PreparedImages eval, PreparedImages validation) throws IOException {
        if (!Files.isRegularFile(file)) {
            return null;
        }
        Map<String, Float> evalScores = new HashMap<>();
        Map<String, Float> valScores = new HashMap<>();
        for (String line : Files.readAllLines(file)) {
            String[] f = line.split(",");
            if (f.length != 3) {
                continue;
            }
            (f[0].equals("eval") ? evalScores : valScores).put(f[1], Float.parseFloat(f[2]));
        }
        float[] p = pick(evalScores, eval);
        float[] v = pick(valScores, validation);
        return p == null || v == null ? null : new float[][] {p, v};
    }

    private static float[] pick(Map<String, Float> scores, PreparedImages images) {
        float[] out = new float[images.size()];
        for (int i = 0; i < out.length; i++) {
            Float s = scores.get(images.entry(i).name());
            if (s == null) {
                return null;
            }
            out[i] = s;
        }
        return out;
    }

    static void write(Path file, PreparedImages eval, PreparedImages validation, float[][] pv) throws IOException {
        StringBuilder sb = new StringBuilder();
        append(sb, "eval", eval, pv[0]);
        append(sb, "validation", validation, pv[1]);
        Json.writeString(file, sb.toString());
    }

    private static void append(StringBuilder sb, String kind, PreparedImages images, float[] p) {
        for (int i = 0; i < p.length; i++) {
            sb.append(kind).append(',').append(images.entry(i).name()).append(',')
                    .append(Float.toString(p[i])).append('\n');
        }
    }

}
