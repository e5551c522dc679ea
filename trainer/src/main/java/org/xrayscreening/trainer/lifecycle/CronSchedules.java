package org.xrayscreening.trainer.lifecycle;

import java.text.ParseException;
import org.quartz.CronExpression;

/**
 * Accepts both cron dialects a platform team meets: the 5-field Unix/Kubernetes form ("0 2 * * *", the same
 * string the Helm chart gives its CronJob) and Quartz's 6/7-field form with seconds ("0 0 2 ? * SUN").
 */
public final class CronSchedules {
    private CronSchedules() {}

    /** The Quartz form of {@code expression}; throws IllegalArgumentException with the reason when invalid. */
    public static String toQuartz(String expression) {
        String[] f = expression.trim().split("\\s+");
        String quartz;
        if (f.length == 5) {
            String dayOfMonth = f[2];
            String dayOfWeek = f[4];
            // Quartz wants '?' in exactly one of the two day fields; Unix cron uses '*' for "any".
            if (dayOfWeek.equals("*")) {
                dayOfWeek = "?";
            } else if (dayOfMonth.equals("*")) {
                dayOfMonth = "?";
            } else {
                throw new IllegalArgumentException("cron '" + expression + "': restricting both day-of-month and "
                        + "day-of-week is not supported; use a Quartz expression");
            }
            quartz = String.join(" ", "0", f[0], f[1], dayOfMonth, f[3], unixDaysToQuartz(dayOfWeek));
        } else if (f.length == 6 || f.length == 7) {
            quartz = String.join(" ", f);
        } else {
            throw new IllegalArgumentException("cron '" + expression + "' has " + f.length
                    + " fields; expected 5 (Unix) or 6-7 (Quartz)");
        }
        try {
            CronExpression.validateExpression(quartz);
        } catch (ParseException e) {
            throw new IllegalArgumentException("cron '" + expression + "' is invalid: " + e.getMessage(), e);
        }
        return quartz;
    }

    /** Unix numbers days 0-6 from Sunday (7 = Sunday too), Quartz 1-7 from Sunday. */
    private static String unixDaysToQuartz(String field) {
        if (field.equals("?") || !field.matches("[0-7,\\-/]+")) {
            return field; // names (MON-FRI) mean the same in both
        }
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < field.length(); i++) {
            char c = field.charAt(i);
            boolean afterSlash = i > 0 && field.charAt(i - 1) == '/';
            if (Character.isDigit(c) && !afterSlash) {
                int day = c - '0';
                out.append(day == 7 ? 1 : day + 1);
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }
}
