/** A rule's message ("password is shorter…") as the form shows it: a sentence, first letter capitalised. */
export function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
