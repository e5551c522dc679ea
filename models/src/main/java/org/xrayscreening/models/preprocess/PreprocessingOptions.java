package org.xrayscreening.models.preprocess;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.io.Serializable;
import java.util.Locale;

/**
 * The optional image conditioning steps of a model's preprocessing (issue 10, "work against the shortcut"):
 * masking what is not the patient and equalising intensities. They are part of the model: recorded in its
 * {@code metadata.json} ({@code preprocessing}), so that training, {@code trainer evaluate} and the stream job
 * prepare identical inputs. Metadata written before these options existed reads as {@link #NONE}.
 *
 * <p>Order, the same everywhere ({@link Preprocessor} is the only place that applies them), at the decoded
 * image's own resolution, on its gray level (0..255 scale; a colour image is reduced to the mean of R, G, B):
 * <ol>
 *   <li>burned-in text ({@link #maskText}): found on the decoded intensities and replaced by its surroundings
 *       ({@link BurnedInTextMask});</li>
 *   <li>border ({@link #maskBorder}): the band is set to the image's background, the 1st percentile of the
 *       pixels inside it (air outside the body), so the band does not shape the histogram of the next step;</li>
 *   <li>intensity ({@link #intensity}): none, global equalisation or CLAHE;</li>
 *   <li>the border band is set again to the background of the equalised image (CLAHE maps one value to
 *       slightly different values in different tiles), so it is exactly uniform;</li>
 *   <li>then, as without options: bilinear resize to the input size and the architecture's normalization.</li>
 * </ol>
 *
 * @param intensity intensity redistribution; {@code null} reads as {@link IntensityMethod#NONE}
 * @param claheClipLimit CLAHE's clip limit, in multiples of the mean bin count of a tile (OpenCV's
 *     {@code clipLimit}, default 2.0); ignored by the other methods
 * @param claheTileGrid CLAHE tiles per side (OpenCV's {@code tileGridSize}, default 8: 8x8 tiles)
 * @param maskBorder fraction of the width (left and right) and of the height (top and bottom) set to the
 *     background, in [0, 0.4]; 0 = no border mask
 * @param maskText whether burned-in text and markers near the edges are detected and replaced by their surroundings
 */
public record PreprocessingOptions(
        IntensityMethod intensity,
        double claheClipLimit,
        int claheTileGrid,
        double maskBorder,
        boolean maskText) implements Serializable {
    private static final long serialVersionUID = 1L;

    public static final double DEFAULT_CLAHE_CLIP_LIMIT = 2.0;
    public static final int DEFAULT_CLAHE_TILE_GRID = 8;
    /** Largest border fraction: at least a fifth of each axis stays visible. */
    public static final double MAX_MASK_BORDER = 0.4;

    /** No conditioning: the preprocessing of every model trained before these options existed. */
    public static final PreprocessingOptions NONE =
            new PreprocessingOptions(IntensityMethod.NONE, DEFAULT_CLAHE_CLIP_LIMIT, DEFAULT_CLAHE_TILE_GRID, 0, false);

    public PreprocessingOptions {
        if (intensity == null) {
            intensity = IntensityMethod.NONE;
        }
        if (!(claheClipLimit >= 1.0 && claheClipLimit <= 256.0)) {
            throw new IllegalArgumentException("CLAHE clip limit must be in [1, 256]: " + claheClipLimit);
        }
        if (claheTileGrid < 1 || claheTileGrid > 64) {
            throw new IllegalArgumentException("CLAHE tile grid must be in [1, 64]: " + claheTileGrid);
        }
        if (!(maskBorder >= 0 && maskBorder <= MAX_MASK_BORDER)) {
            throw new IllegalArgumentException("border mask fraction must be in [0, " + MAX_MASK_BORDER + "]: "
                    + maskBorder);
        }
    }

    /** Reads {@code metadata.json} / {@code run.json}: absent CLAHE settings take their defaults, absent masks are off. */
    @JsonCreator
    static PreprocessingOptions fromJson(@JsonProperty("intensity") IntensityMethod intensity,
                                         @JsonProperty("claheClipLimit") Double claheClipLimit,
                                         @JsonProperty("claheTileGrid") Integer claheTileGrid,
                                         @JsonProperty("maskBorder") Double maskBorder,
                                         @JsonProperty("maskText") Boolean maskText) {
        return new PreprocessingOptions(intensity,
                claheClipLimit == null ? DEFAULT_CLAHE_CLIP_LIMIT : claheClipLimit,
                claheTileGrid == null ? DEFAULT_CLAHE_TILE_GRID : claheTileGrid,
                maskBorder == null ? 0 : maskBorder,
                maskText != null && maskText);
    }

    public static PreprocessingOptions of(IntensityMethod intensity, double maskBorder, boolean maskText) {
        return new PreprocessingOptions(intensity, DEFAULT_CLAHE_CLIP_LIMIT, DEFAULT_CLAHE_TILE_GRID, maskBorder,
                maskText);
    }

    /** Whether no step is on: the image goes straight to resizing, exactly as before these options existed. */
    @JsonIgnore
    public boolean isNone() {
        return intensity == IntensityMethod.NONE && maskBorder == 0 && !maskText;
    }

    /** Short form for logs and run names, e.g. {@code clahe2.0x8+border0.05+text}. */
    public String describe() {
        if (isNone()) {
            return "none";
        }
        StringBuilder b = new StringBuilder(intensity.id());
        if (intensity == IntensityMethod.CLAHE) {
            b.append(String.format(Locale.ROOT, "%.1fx%d", claheClipLimit, claheTileGrid));
        }
        if (maskBorder > 0) {
            b.append(String.format(Locale.ROOT, "+border%s", maskBorder));
        }
        if (maskText) {
            b.append("+text");
        }
        return b.toString();
    }
}
