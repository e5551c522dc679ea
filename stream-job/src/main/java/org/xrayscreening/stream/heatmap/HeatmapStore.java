package org.xrayscreening.stream.heatmap;

import java.awt.image.BufferedImage;
import java.awt.image.DataBufferUShort;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.xrayscreening.connectors.event.ModelScore;
import org.xrayscreening.models.explain.Heatmap;
import org.xrayscreening.models.explain.HeatmapOverlay;

/**
 * The heatmap store: a directory (like the model registry) of immutable files, one folder per study,
 * {@code <root>/<study>/<model>-<version>[+<model>-<version>...].overlay.png} (the X-ray with the combined Grad-CAM
 * map in colour over it) and, beside it, {@code ... .map.png}: the raw map as 16-bit grayscale, value = heat x
 * 65535, at the same size as the overlay.
 *
 * <p>Names hold the study id and the model versions, never a patient identifier; a study id that is not a safe
 * file name is replaced by {@code sha256-<hex of the id>}. Each file is written to a temporary file in the same
 * folder and then hard-linked into place, which is atomic and never replaces: a reader sees a whole file or none,
 * and a second write of the same name (a replay after a restore) keeps the first, equal, file.
 */
public final class HeatmapStore {
    public static final String OVERLAY_SUFFIX = ".overlay.png";
    public static final String MAP_SUFFIX = ".map.png";
    private static final Pattern SAFE_NAME = Pattern.compile("[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}");

    private final Path root;

    public HeatmapStore(Path root) {
        this.root = Objects.requireNonNull(root, "root").toAbsolutePath().normalize();
    }

    public Path root() {
        return root;
    }

    /** Writes the overlay and the raw map of one study; returns the overlay's {@code file:} URI. */
    public URI write(String studyId, List<ModelScore> models, BufferedImage xray, Heatmap heatmap) throws IOException {
        if (xray.getWidth() != heatmap.width() || xray.getHeight() != heatmap.height()) {
            throw new IllegalArgumentException("heatmap " + heatmap.width() + "x" + heatmap.height()
                    + " does not match the image " + xray.getWidth() + "x" + xray.getHeight());
        }
        Path folder = root.resolve(safeName(studyId));
        Files.createDirectories(folder);
        String base = modelsName(models);
        Path overlay = folder.resolve(base + OVERLAY_SUFFIX);
        // the map first: whoever sees the overlay (the URI in the alert) finds the map beside it
        writeOnce(folder.resolve(base + MAP_SUFFIX), rawMap(heatmap));
        writeOnce(overlay, HeatmapOverlay.render(xray, heatmap));
        return overlay.toUri();
    }

    /** The overlay's path for a study and its models (whether written or not). */
    public Path overlayPath(String studyId, List<ModelScore> models) {
        return root.resolve(safeName(studyId)).resolve(modelsName(models) + OVERLAY_SUFFIX);
    }

    static String safeName(String value) {
        if (value != null && SAFE_NAME.matcher(value).matches() && !value.equals(".") && !value.equals("..")) {
            return value;
        }
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256")
                    .digest(String.valueOf(value).getBytes(StandardCharsets.UTF_8));
            return "sha256-" + HexFormat.of().formatHex(digest);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    static String modelsName(List<ModelScore> models) {
        if (models.isEmpty()) {
            throw new IllegalArgumentException("a heatmap names the models that made it; none given");
        }
        StringBuilder name = new StringBuilder();
        models.stream().map(m -> safeName(m.model() + "-" + m.version())).sorted().forEach(m -> {
            if (name.length() > 0) {
                name.append('+');
            }
            name.append(m);
        });
        return name.toString();
    }

    /** 16-bit grayscale: the map's full precision (8 bits would band a smooth map). */
    static BufferedImage rawMap(Heatmap heatmap) {
        BufferedImage image = new BufferedImage(heatmap.width(), heatmap.height(), BufferedImage.TYPE_USHORT_GRAY);
        short[] out = ((DataBufferUShort) image.getRaster().getDataBuffer()).getData();
        float[] values = heatmap.values();
        for (int i = 0; i < values.length; i++) {
            out[i] = (short) Math.round(Math.max(0f, Math.min(1f, values[i])) * 65535f);
        }
        return image;
    }

    /** Reads a raw map back as values in [0, 1] (for tests and tools). */
    public static float[] readRawMap(Path mapPng) throws IOException {
        BufferedImage image = ImageIO.read(mapPng.toFile());
        if (image == null) {
            throw new IOException("not an image: " + mapPng.getFileName());
        }
        int[] samples = image.getRaster().getSamples(0, 0, image.getWidth(), image.getHeight(), 0, (int[]) null);
        float[] values = new float[samples.length];
        for (int i = 0; i < samples.length; i++) {
            values[i] = samples[i] / 65535f;
        }
        return values;
    }

    private static void writeOnce(Path target, BufferedImage image) throws IOException {
        if (Files.exists(target)) {
            return;
        }
        // not Files.createTempFile: its owner-only mode would stay on the linked file, and the readers of the store
        // (a worklist, a viewer) are other processes; this way the mode follows the umask, like the registry's files
        Path tmp = target.resolveSibling(".tmp-" + java.util.UUID.randomUUID() + ".png");
        try {
            try (OutputStream out = Files.newOutputStream(tmp, java.nio.file.StandardOpenOption.CREATE_NEW,
                    java.nio.file.StandardOpenOption.WRITE)) {
                if (!ImageIO.write(image, "png", out)) {
                    throw new IOException("no PNG writer for " + image.getType());
                }
            }
            try {
                Files.createLink(target, tmp);
            } catch (FileAlreadyExistsException e) {
                // written meanwhile by a replay of the same study: same inputs, same file; keep the first
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
