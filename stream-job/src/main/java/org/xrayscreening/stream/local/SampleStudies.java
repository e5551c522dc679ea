package org.xrayscreening.stream.local;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVParser;
import org.apache.commons.csv.CSVRecord;
import org.xrayscreening.connectors.event.EventCodec;
import org.xrayscreening.connectors.event.ImageReference;
import org.xrayscreening.connectors.event.XrayAcquired;
import org.xrayscreening.connectors.image.DicomWriter;
import org.xrayscreening.models.synthetic.SyntheticChestXray;

/**
 * The studies the local run and the benchmark stream: synthetic X-rays (rotating through inline PNG, inline
 * JPEG and DICOM by file URI, so every decoder path runs), or the images of a real dataset folder sent as
 * {@code file:} claim checks.
 */
public final class SampleStudies {

    /** A study ready to produce, with its ground truth when known (for display only). */
    public record Sample(String studyId, byte[] json, String truth) {}

    private SampleStudies() {}

    public static Sample synthetic(long index, int size, Path spoolDir, Random random) {
        boolean positive = random.nextDouble() < 0.3;
        SyntheticChestXray xray = SyntheticChestXray.of(index, size, positive);
        String studyId = String.format(Locale.ROOT, "demo-%06d", index);
        ImageReference image;
        try {
            switch ((int) (index % 3)) {
                case 0 -> image = ImageReference.inline(ImageReference.PNG, encode(xray.gray8(), "png"));
                case 1 -> image = ImageReference.inline(ImageReference.JPEG, encode(xray.gray8(), "jpeg"));
                default -> {
                    Files.createDirectories(spoolDir);
                    Path file = spoolDir.resolve(studyId + ".dcm");
                    detectorDicom(xray.gray8()).write(file);
                    image = ImageReference.at(ImageReference.DICOM, file.toUri().toString());
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        XrayAcquired event = new XrayAcquired(EventCodec.SCHEMA_VERSION, studyId, "demo-patient-" + index,
                Instant.now(), "PA", "synthetic", image);
        return new Sample(studyId, new EventCodec().toJson(event), positive ? "covid" : "non-covid");
    }

    /**
     * An 8-bit picture as a detector sends it: 12 bits stored in 16, MONOCHROME1 (0 is white), with the window
     * that displays it as the 8-bit picture in its header; so it decodes to exactly the picture's pixels.
     */
    public static DicomWriter detectorDicom(java.awt.image.BufferedImage gray8) {
        int w = gray8.getWidth();
        int h = gray8.getHeight();
        short[] stored = new short[w * h];
        java.awt.image.Raster raster = gray8.getRaster();
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                stored[y * w + x] = (short) (4095 - Math.round(raster.getSample(x, y, 0) * 4095.0 / 255.0));
            }
        }
        return DicomWriter.gray16(w, h, stored).bitsStored(12).monochrome1(true).window(2048, 4096);
    }

    /**
     * The images of a dataset folder: {@code manifest.csv} (columns file,label,...) when present, otherwise
     * every PNG/JPEG/DICOM file below it, with the label taken from a {@code covid}/{@code non-covid} parent.
     */
    public static List<Path> listImages(Path dir) throws IOException {
        Path manifest = dir.resolve("manifest.csv");
        List<Path> files = new ArrayList<>();
        if (Files.isRegularFile(manifest)) {
            CSVFormat format = CSVFormat.DEFAULT.builder().setHeader().setSkipHeaderRecord(true).get();
            try (Reader r = Files.newBufferedReader(manifest); CSVParser parser = format.parse(r)) {
                for (CSVRecord row : parser) {
                    String file = row.get("file").trim();
                    if (!file.isEmpty()) {
                        files.add(dir.resolve(file));
                    }
                }
            }
        } else {
            try (Stream<Path> walk = Files.walk(dir)) {
                walk.filter(Files::isRegularFile).filter(p -> contentType(p) != null).sorted().forEach(files::add);
            }
        }
        return files;
    }

    public static Sample fromFile(long index, Path file) {
        String studyId = String.format(Locale.ROOT, "file-%06d", index);
        Path parent = file.getParent();
        String truth = parent == null ? "?" : parent.getFileName().toString();
        XrayAcquired event = new XrayAcquired(EventCodec.SCHEMA_VERSION, studyId, null, Instant.now(), null,
                "folder", ImageReference.at(contentType(file), file.toAbsolutePath().toUri().toString()));
        return new Sample(studyId, new EventCodec().toJson(event), truth);
    }

    static String contentType(Path file) {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        if (name.endsWith(".png")) {
            return ImageReference.PNG;
        }
        if (name.endsWith(".jpg") || name.endsWith(".jpeg")) {
            return ImageReference.JPEG;
        }
        if (name.endsWith(".dcm")) {
            return ImageReference.DICOM;
        }
        return null;
    }

    public static byte[] encode(BufferedImage image, String format) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        if (!ImageIO.write(image, format, out)) {
            throw new IOException("no ImageIO writer for " + format);
        }
        return out.toByteArray();
    }
}
