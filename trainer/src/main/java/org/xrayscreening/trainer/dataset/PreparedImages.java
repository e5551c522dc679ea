package org.xrayscreening.trainer.dataset;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.stream.IntStream;
import org.xrayscreening.connectors.image.ImageDecoder;
import org.xrayscreening.connectors.event.ImageReference;
import org.xrayscreening.models.preprocess.Preprocessor;

/**
 * Images of one split, decoded and preprocessed once (CHW floats for one architecture's normalization and
 * input size) and kept in memory for every epoch: 1,300 images at 128 px are 250 MB. Files that cannot be
 * read or decoded are skipped and listed in {@link #skipped()}, never fatal.
 */
public final class PreparedImages {
    private final List<DatasetEntry> entries;
    private final float[][] inputs;
    private final List<String> skipped;
    private final Preprocessor preprocessor;

    private PreparedImages(List<DatasetEntry> entries, float[][] inputs, List<String> skipped, Preprocessor preprocessor) {
        this.entries = List.copyOf(entries);
        this.inputs = inputs;
        this.skipped = List.copyOf(skipped);
        this.preprocessor = preprocessor;
    }

    /**
     * Decodes (PNG, JPEG, DICOM via the connectors' decoder, the same code the stream job decodes with: for
     * DICOM that includes the Modality/VOI LUT pipeline and every supported transfer syntax) and preprocesses
     * in parallel. The format is taken from the file's bytes, else from its name.
     */
    public static PreparedImages load(List<DatasetEntry> entries, Preprocessor preprocessor) {
        ImageDecoder decoder = new ImageDecoder();
        float[][] out = new float[entries.size()][];
        String[] problems = new String[entries.size()];
        IntStream.range(0, entries.size()).parallel().forEach(i -> {
            DatasetEntry e = entries.get(i);
            try {
                byte[] bytes = Files.readAllBytes(e.file());
                String sniffed = ImageDecoder.contentTypeOf(bytes);
                BufferedImage image = decoder.decode(bytes, sniffed != null ? sniffed : contentType(e.name()));
                out[i] = preprocessor.toChw(image);
            } catch (IOException ex) {
                problems[i] = e.name() + ": cannot read (" + ex.getClass().getSimpleName() + ": " + ex.getMessage() + ")";
            } catch (Exception ex) {
                problems[i] = e.name() + ": cannot decode (" + ex.getMessage() + ")";
            }
        });
        List<DatasetEntry> kept = new ArrayList<>();
        List<float[]> keptInputs = new ArrayList<>();
        List<String> skipped = new ArrayList<>();
        for (int i = 0; i < entries.size(); i++) {
            if (out[i] != null) {
                kept.add(entries.get(i));
                keptInputs.add(out[i]);
            } else {
                skipped.add(problems[i]);
            }
        }
        return new PreparedImages(kept, keptInputs.toArray(new float[0][]), skipped, preprocessor);
    }

    /** The content type an image file name implies (JPEG when the name says nothing). */
    public static String contentType(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        if (n.endsWith(".png")) {
            return ImageReference.PNG;
        }
        if (n.endsWith(".dcm") || n.endsWith(".dicom")) {
            return ImageReference.DICOM;
        }
        return ImageReference.JPEG;
    }

    public int size() {
        return entries.size();
    }

    public DatasetEntry entry(int i) {
        return entries.get(i);
    }

    public List<DatasetEntry> entries() {
        return entries;
    }

    /** The preprocessed CHW input of image {@code i} (shared; do not modify). */
    public float[] input(int i) {
        return inputs[i];
    }

    public List<float[]> inputs() {
        return Collections.unmodifiableList(java.util.Arrays.asList(inputs));
    }

    public Label label(int i) {
        return entries.get(i).label();
    }

    public int count(Label label) {
        return (int) entries.stream().filter(e -> e.label() == label).count();
    }

    /** "name: reason" for each image that was skipped. */
    public List<String> skipped() {
        return skipped;
    }

    public Preprocessor preprocessor() {
        return preprocessor;
    }
}
