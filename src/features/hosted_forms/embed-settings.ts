/**
 * The keys of `trigger_settings`, `theme_settings` and `widget_settings` that embed.js honours
 * (docs/opt-in-forms.md "Widget settings"). The objects are stored verbatim, so each value is
 * checked here, at render: one that is missing, of the wrong type or out of range falls back to
 * its default, and only values that cannot break out of a CSS property reach the page (hex
 * colours, a plain font list, a pixel radius). Other keys stay stored and are ignored.
 */
import type { OptInForm } from "@/db/schema";

export const TRIGGERS = ["immediate", "delay", "scroll", "exit_intent"] as const;
export const POSITIONS = ["bottom-right", "bottom-left"] as const;

export interface WidgetOptions {
  trigger: (typeof TRIGGERS)[number];
  delay_seconds: number;
  scroll_percent: number;
  /** 0: shown on every visit; else not again for this many days after a close or a sign-up. */
  show_once_per_days: number;
  theme: { primary_color: string; background_color: string; text_color: string; font_family: string; border_radius: number };
  position: (typeof POSITIONS)[number];
  close_button: boolean;
}

const HEX_COLOUR = /^#(?:[0-9a-f]{3}|[0-9a-f]{4}|[0-9a-f]{6}|[0-9a-f]{8})$/i;
// Letters, digits, spaces, commas and hyphens only: no quotes, semicolons, parentheses or url().
const FONT_LIST = /^[a-z0-9 ,-]{1,100}$/i;

const oneOf = <T extends string>(list: readonly T[], v: unknown, fallback: T): T => (list.includes(v as T) ? (v as T) : fallback);
const intIn = (v: unknown, min: number, max: number, fallback: number) => (Number.isInteger(v) && (v as number) >= min && (v as number) <= max ? (v as number) : fallback);
const matching = (pattern: RegExp, v: unknown, fallback: string) => (typeof v === "string" && pattern.test(v.trim()) ? v.trim() : fallback);

/** `12` or `"12px"` (0–48), else the default. */
function radius(v: unknown): number {
  const px = typeof v === "string" && /^\d{1,2}px$/.test(v.trim()) ? Number.parseInt(v, 10) : v;
  return intIn(px, 0, 48, 6);
}

/** What the widget of `form` does with its stored settings. */
export function widgetOptions(form: OptInForm): WidgetOptions {
  const trigger = form.trigger_settings;
  const theme = form.theme_settings;
  const widget = form.widget_settings;
  return {
    trigger: oneOf(TRIGGERS, trigger.trigger, "immediate"),
    delay_seconds: intIn(trigger.delay_seconds, 0, 3600, 5),
    scroll_percent: intIn(trigger.scroll_percent, 1, 100, 50),
    show_once_per_days: intIn(trigger.show_once_per_days, 0, 365, 0),
    theme: {
      primary_color: matching(HEX_COLOUR, theme.primary_color, "#1a56db"),
      background_color: matching(HEX_COLOUR, theme.background_color, "#ffffff"),
      text_color: matching(HEX_COLOUR, theme.text_color, "#111111"),
      font_family: matching(FONT_LIST, theme.font_family, "sans-serif"),
      border_radius: radius(theme.border_radius),
    },
    position: oneOf(POSITIONS, widget.position, "bottom-right"),
    close_button: widget.close_button !== false,
  };
}
