import { z } from "zod";
import { containsPanText } from "./pan.ts";

/*
 * Free text from a client — an analyst's note, a name, a list value — is scanned for card numbers
 * like a transaction (law 7, issue 20): a PAN is refused before it is stored, published or logged.
 */

const NO_PAN = "looks like a card number; send a token, never a PAN";

/** Text of at most `max` characters holding no card number. */
export const textWithoutPan = (max: number) =>
  z
    .string()
    .max(max)
    .refine((s) => !containsPanText(s), NO_PAN);

/** An analyst's note. */
export const FreeText = textWithoutPan(2_000);
