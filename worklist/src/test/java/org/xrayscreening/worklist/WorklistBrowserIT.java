package org.xrayscreening.worklist;

import static org.assertj.core.api.Assertions.assertThat;

import java.awt.image.BufferedImage;
import java.awt.image.DataBufferUShort;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.imageio.ImageIO;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;
import org.xrayscreening.connectors.event.Decision;
import org.xrayscreening.connectors.event.ImageReference;
import org.xrayscreening.connectors.event.Recommendation;
import org.xrayscreening.connectors.event.XrayAcquired;
import org.xrayscreening.connectors.event.XrayLabelled;
import org.xrayscreening.connectors.image.ImageSourcePolicy;
import org.xrayscreening.connectors.kafka.EmbeddedKafka;
import org.xrayscreening.connectors.kafka.KafkaTopics;
import org.xrayscreening.models.synthetic.SyntheticChestXray;

/**
 * The worklist in a real browser (headless Chromium through Selenium; Debian packages {@code chromium} and
 * {@code chromium-driver}) against an embedded Kafka broker: a flagged study put on the topics while the list is
 * open appears without a reload; its page draws the X-ray (read through the claim-check loader from a file) and
 * the heatmap from the store's raw map, which can be switched off; "Confirm COVID-19" puts exactly one
 * radiologist label on {@code xray.labelled} (read back with read_committed), a retry of the same click adds none,
 * and the list marks the study reviewed. Screenshots go to {@code target/screenshots/}.
 */
class WorklistBrowserIT {
    static final KafkaTopics TOPICS = KafkaTopics.DEFAULTS.withPrefix("it.");
    static final String STUDY = "CXR-2026-000417";
    static final Path SCREENSHOTS = Path.of("target", "screenshots");
    static final int SIZE = 512;

    @TempDir
    static Path dir;
    static EmbeddedKafka kafka;
    static WorklistServer.Running worklist;
    static WebDriver browser;
    static String origin;

    @BeforeAll
    static void start() throws Exception {
        Path chromium = Path.of("/usr/bin/chromium");
        Path driver = Path.of("/usr/bin/chromedriver");
        if (!Files.isExecutable(chromium) || !Files.isExecutable(driver)) {
            throw new IllegalStateException("this test needs headless Chromium: apt-get install chromium chromium-driver");
        }
        kafka = new EmbeddedKafka().start();
        kafka.createTopics(1, TOPICS.acquired(), TOPICS.recommendations(), TOPICS.alerts(), TOPICS.labelled());
        Path users = dir.resolve("users.properties");
        Files.writeString(users, "alice = radiologist : " + Users.hash("alice-pw-1".toCharArray(), 10_000) + "\n"
                + "nurse1 = viewer : " + Users.hash("nurse-pw-1".toCharArray(), 10_000) + "\n");
        Secrets secrets = Secrets.random();
        worklist = WorklistServer.start(Map.of("bootstrap.servers", kafka.bootstrapServers()), TOPICS,
                Users.read(users), Authenticator.basic(Users.read(users), secrets, Duration.ofMinutes(5)), secrets,
                ImageSourcePolicy.of(List.of(dir), List.of(), false),
                new WorklistApp.Settings("127.0.0.1", 0, null, 100), "it-worklist", 10_000);
        origin = "http://127.0.0.1:" + worklist.app().port();

        ChromeOptions options = new ChromeOptions();
        options.setBinary(chromium.toFile());
        options.addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1000", "--user-data-dir=" + dir.resolve("chromium-profile"));
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(driver.toFile())
                .usingAnyFreePort().build();
        browser = new ChromeDriver(service, options);
        browser.manage().timeouts().scriptTimeout(Duration.ofSeconds(30));
        Files.createDirectories(SCREENSHOTS);
    }

    @AfterAll
    static void stop() throws Exception {
        if (browser != null) {
            browser.quit();
        }
        if (worklist != null) {
            worklist.close();
        }
        if (kafka != null) {
            kafka.close();
        }
    }

    /** The stream job's heatmap store layout: overlay PNG and, beside it, the raw map (16-bit, heat x 65535). */
    static String writeHeatmap(BufferedImage xray) throws Exception {
        Path folder = Files.createDirectories(dir.resolve("heatmaps").resolve(STUDY));
        BufferedImage map = new BufferedImage(SIZE, SIZE, BufferedImage.TYPE_USHORT_GRAY);
        short[] heat = ((DataBufferUShort) map.getRaster().getDataBuffer()).getData();
        BufferedImage overlay = new BufferedImage(SIZE, SIZE, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < SIZE; y++) {
            for (int x = 0; x < SIZE; x++) {
                // one hot spot over the right lung (image left), around (0.3, 0.55) of the frame
                double dx = x / (double) SIZE - 0.3;
                double dy = y / (double) SIZE - 0.55;
                double h = Math.exp(-(dx * dx + dy * dy) / (2 * 0.08 * 0.08));
                heat[y * SIZE + x] = (short) Math.round(h * 65535);
                int g = xray.getRaster().getSample(x, y, 0);
                overlay.setRGB(x, y, (int) Math.min(255, g + 200 * h) << 16 | g << 8 | g);
            }
        }
        String base = "mobilenet-v3+resnet50-v7";
        ImageIO.write(map, "png", folder.resolve(base + ".map.png").toFile());
        Path overlayPath = folder.resolve(base + ".overlay.png");
        ImageIO.write(overlay, "png", overlayPath.toFile());
        return overlayPath.toUri().toString();
    }

    JavascriptExecutor js() {
        return (JavascriptExecutor) browser;
    }

    WebDriverWait waiting(int seconds) {
        return new WebDriverWait(browser, Duration.ofSeconds(seconds));
    }

    static Path screenshot(String name) throws Exception {
        Path file = SCREENSHOTS.resolve(name + ".png");
        Path shot = ((TakesScreenshot) browser).getScreenshotAs(OutputType.FILE).toPath();
        Files.copy(shot, file, StandardCopyOption.REPLACE_EXISTING);
        return file;
    }

    /** RGB of the canvas at a point given as fractions of its size. */
    @SuppressWarnings("unchecked")
    List<Long> canvasPixel(double fx, double fy) {
        return (List<Long>) js().executeScript("var c = document.getElementById('xray');"
                + "var d = c.getContext('2d').getImageData(Math.floor(c.width*arguments[0]), Math.floor(c.height*arguments[1]), 1, 1).data;"
                + "return [d[0], d[1], d[2]];", fx, fy);
    }

    @Test
    void aFlaggedStudyIsShownReviewedOnceAndMarked() throws Exception {
        // sign in: HTTP basic (the credentials in the first URL fill the browser's auth cache for the origin)
        browser.get("http://alice:alice-pw-1@127.0.0.1:" + worklist.app().port() + "/");
        browser.get(origin + "/");
        waiting(60).until(d -> d.findElement(By.id("status")).getText().startsWith("live"));
        assertThat(browser.findElements(By.cssSelector("#rows tr"))).isEmpty();

        // the study arrives while the list is open: it must appear without a reload
        SyntheticChestXray xray = SyntheticChestXray.positive(417, SIZE);
        Path imageFile = Files.createDirectories(dir.resolve("spool")).resolve("study-417.png");
        Files.write(imageFile, Studies.png(xray.gray8()));
        Instant acquiredAt = Instant.now().minusSeconds(95);
        XrayAcquired acquired = Studies.acquired(STUDY, ImageReference.at(ImageReference.PNG, imageFile.toUri().toString()), acquiredAt);
        Recommendation r = Studies.recommendation(STUDY, Decision.COVID_SUSPECTED, 0.91, acquiredAt);
        Studies.putFlagged(kafka.bootstrapServers(), TOPICS, acquired, r, writeHeatmap(xray.gray8()));

        WebElement row = waiting(30).until(d -> d.findElements(By.cssSelector("#rows tr")).stream().findFirst().orElse(null));
        assertThat(row.getText()).contains(STUDY, "COVID_SUSPECTED", "0.910", "mobilenet", "v3", "resnet50", "v7", "open");
        assertThat(row.findElement(By.cssSelector("td.since")).getText()).matches("\\d+ (s|min)");
        String href = row.findElement(By.cssSelector("a")).getAttribute("href");
        assertThat(href).doesNotContain(STUDY).doesNotContain("PAT-"); // neither study id nor patient in URLs
        assertThat(browser.getPageSource()).doesNotContain("PAT-7781");
        screenshot("01-worklist-new-study");

        // the study page: X-ray and heatmap drawn
        row.findElement(By.cssSelector("a")).click();
        waiting(30).until(d -> "true".equals(d.findElement(By.id("xray")).getAttribute("data-xray-drawn")));
        waiting(30).until(d -> "true".equals(d.findElement(By.id("xray")).getAttribute("data-heatmap-drawn")));
        assertThat(browser.findElement(By.id("xray")).getAttribute("width")).isEqualTo("" + SIZE);
        assertThat(browser.getPageSource()).doesNotContain("PAT-7781");
        List<Long> hot = canvasPixel(0.3, 0.55);
        List<Long> cold = canvasPixel(0.9, 0.05);
        assertThat(hot.get(0)).as("red channel in the hot spot").isGreaterThan(hot.get(2) + 40);
        assertThat(cold.get(0)).as("no colour far from it").isEqualTo(cold.get(1)).isEqualTo(cold.get(2));
        assertThat(browser.findElement(By.cssSelector(".numbers")).getText()).contains("0.910", "0.950", "0.880", "v3", "v7");
        screenshot("02-study-heatmap-on");

        // heatmap off: the hot spot is gray again; window/level changes the image
        browser.findElement(By.id("heatmap-toggle")).click();
        waiting(5).until(d -> "false".equals(d.findElement(By.id("xray")).getAttribute("data-heatmap-drawn")));
        List<Long> plain = canvasPixel(0.3, 0.55);
        assertThat(plain.get(0)).isEqualTo(plain.get(1)).isEqualTo(plain.get(2));
        js().executeScript("var w = document.getElementById('window-width'); w.value = 2000;"
                + "w.dispatchEvent(new Event('input'));");
        List<Long> narrow = canvasPixel(0.3, 0.55);
        assertThat(narrow).isNotEqualTo(plain);
        browser.findElement(By.id("reset-window")).click();
        browser.findElement(By.id("heatmap-toggle")).click();
        waiting(5).until(d -> "true".equals(d.findElement(By.id("xray")).getAttribute("data-heatmap-drawn")));

        // confirm: exactly one radiologist label on the topic
        browser.findElement(By.id("note")).sendKeys("consolidation, right lower zone");
        browser.findElement(By.id("confirm-covid")).click();
        WebElement outcome = browser.findElement(By.id("outcome"));
        waiting(30).until(d -> outcome.getAttribute("data-outcome") != null);
        assertThat(outcome.getAttribute("data-outcome")).isEqualTo("PUBLISHED");
        assertThat(outcome.getText()).contains("Recorded: covid by alice");
        String clickId = outcome.getAttribute("data-click-id");
        screenshot("03-study-confirmed");

        List<ConsumerRecord<String, byte[]>> labels = Studies.readCommitted(kafka.bootstrapServers(), TOPICS.labelled());
        assertThat(labels).hasSize(1);
        XrayLabelled label = Studies.CODEC.parseLabelled(labels.get(0).value());
        assertThat(label.studyId()).isEqualTo(STUDY);
        assertThat(label.label()).isEqualTo(XrayLabelled.COVID);
        assertThat(label.labelSource()).isEqualTo(XrayLabelled.RADIOLOGIST);
        assertThat(label.image().uri()).isEqualTo(imageFile.toUri().toString());
        assertThat(LabelHeaders.text(labels.get(0).headers(), LabelHeaders.CLICK_ID)).isEqualTo(clickId);

        // a retry of the same click (as the page sends after a lost response) publishes nothing more
        Object retry = js().executeAsyncScript("var done = arguments[arguments.length - 1];"
                + "var main = document.getElementById('study');"
                + "fetch(location.origin + '/studies/' + main.dataset.key + '/label', {method: 'POST', headers: {"
                + "'Content-Type': 'application/json', 'Accept': 'application/json', 'X-CSRF-Token': main.dataset.csrf},"
                + "body: JSON.stringify({clickId: arguments[0], verdict: 'covid', note: ''})})"
                + ".then(function (r) { return r.json(); }).then(function (b) { done(b.outcome); }, function (e) { done('ERR ' + e); });",
                clickId);
        assertThat(retry).isEqualTo("ALREADY_PUBLISHED");
        // and a forged request without the page's CSRF token is refused
        Object forged = js().executeAsyncScript("var done = arguments[arguments.length - 1];"
                + "var main = document.getElementById('study');"
                + "fetch(location.origin + '/studies/' + main.dataset.key + '/label', {method: 'POST', headers: {"
                + "'Content-Type': 'application/json', 'Accept': 'application/json'},"
                + "body: JSON.stringify({clickId: '0b7c3e51-8a6f-4f7e-9d3c-2f1e0a9b8c7d', verdict: 'non-covid'})})"
                + ".then(function (r) { done(r.status); }, function (e) { done('ERR ' + e); });");
        assertThat(forged).isEqualTo(403L);
        assertThat(Studies.readCommitted(kafka.bootstrapServers(), TOPICS.labelled())).hasSize(1);

        // the list marks it reviewed
        browser.get(origin + "/");
        WebElement reviewed = waiting(30).until(d -> d.findElements(By.cssSelector("#rows tr.reviewed")).stream()
                .findFirst().orElse(null));
        assertThat(reviewed.getText()).contains(STUDY, "reviewed: covid", "alice");
        Path listShot = screenshot("04-worklist-reviewed");
        assertThat(Files.size(listShot)).isGreaterThan(10_000);
    }
}
