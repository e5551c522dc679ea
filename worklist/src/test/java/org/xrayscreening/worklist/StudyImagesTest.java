package org.xrayscreening.worklist;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.awt.image.BufferedImage;
import java.awt.image.DataBufferUShort;
import java.io.ByteArrayInputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.connectors.event.ImageReference;
import org.xrayscreening.connectors.image.ImageLimits;
import org.xrayscreening.connectors.image.ImageLoader;
import org.xrayscreening.connectors.image.ImageSourcePolicy;

class StudyImagesTest {

    @Test
    void theHeatmapIsTransparentWhereColdAndRedWhereHot() {
        int cold = StudyImages.argb(0.05);
        int hot = StudyImages.argb(1.0);
        int warm = StudyImages.argb(0.35);
        assertThat(cold >>> 24).isZero();
        assertThat(hot >>> 24).isEqualTo(255);
        assertThat((hot >> 16) & 0xff).isGreaterThan(100).isGreaterThan(hot & 0xff);
        assertThat(warm >>> 24).isBetween(1, 254);
    }

    @Test
    void eightBitGrayBecomesFullRangeSixteenBitAndLargeImagesAreScaledDown() {
        BufferedImage gray8 = new BufferedImage(2048, 1024, BufferedImage.TYPE_BYTE_GRAY);
        gray8.getRaster().setSample(0, 0, 0, 255);
        gray8.getRaster().setSample(2047, 1023, 0, 0);
        BufferedImage tiny = new BufferedImage(4, 2, BufferedImage.TYPE_BYTE_GRAY);
        tiny.getRaster().setSample(1, 1, 0, 255);
        BufferedImage small = StudyImages.toGray16(tiny, StudyImages.MAX_SIDE);
        assertThat(small.getRaster().getSample(1, 1, 0)).isEqualTo(65535);
        assertThat(small.getRaster().getSample(0, 0, 0)).isZero();
        BufferedImage big = StudyImages.toGray16(gray8, StudyImages.MAX_SIDE);
        assertThat(big.getWidth()).isEqualTo(1024);
        assertThat(big.getHeight()).isEqualTo(512);
        StudyImages.Pixels p = StudyImages.pixels(small);
        short[] back = new short[8];
        ByteBuffer.wrap(p.littleEndianSamples()).order(ByteOrder.LITTLE_ENDIAN).asShortBuffer().get(back);
        assertThat(back[1 * 4 + 1] & 0xffff).isEqualTo(65535);
    }

    @Test
    void readsTheRawMapBesideTheOverlayOnlyWhereThePolicyAllows(@TempDir Path dir) throws Exception {
        Path store = Files.createDirectories(dir.resolve("heatmaps/s1"));
        BufferedImage map = new BufferedImage(8, 8, BufferedImage.TYPE_USHORT_GRAY);
        ((DataBufferUShort) map.getRaster().getDataBuffer()).getData()[9] = (short) 65535; // (1, 1) hot
        ImageIO.write(map, "png", store.resolve("m-v1.map.png").toFile());
        String overlay = store.resolve("m-v1.overlay.png").toUri().toString();

        StudyImages allowed = new StudyImages(new ImageLoader(ImageLimits.DEFAULTS,
                ImageSourcePolicy.of(List.of(dir.resolve("heatmaps")), List.of(), false)));
        BufferedImage png = ImageIO.read(new ByteArrayInputStream(allowed.heatmap(overlay)));
        assertThat(png.getWidth()).isEqualTo(8);
        assertThat(png.getRGB(1, 1) >>> 24).isEqualTo(255);
        assertThat(png.getRGB(5, 5) >>> 24).isZero();

        StudyImages elsewhere = new StudyImages(new ImageLoader(ImageLimits.DEFAULTS,
                ImageSourcePolicy.of(List.of(dir.resolve("other")), List.of(), false)));
        assertThatThrownBy(() -> elsewhere.heatmap(overlay)).isInstanceOfSatisfying(WorklistException.class,
                e -> assertThat(e.getMessage()).contains("IMAGE_SOURCE_NOT_ALLOWED").doesNotContain(dir.toString()));
        assertThatThrownBy(() -> allowed.heatmap(store.resolve("m-v1.map.png").toUri().toString()))
                .hasMessageContaining("not an overlay");
        assertThatThrownBy(() -> allowed.xray("k", () -> ImageReference.at(ImageReference.PNG, "file:///etc/passwd")))
                .hasMessageContaining("IMAGE_SOURCE_NOT_ALLOWED");
    }
}
