import Taro from '@tarojs/taro';
import { describeError } from '../api/messages.ts';

/** Shows the short line of a failed call as a toast; answers the full sentence for the page. */
export function toastError(error: unknown): string {
  const text = describeError(error);
  toastText(text.toast);
  return text.detail;
}

/** A short line as a toast, without an icon (room for the text). */
export function toastText(title: string) {
  void Taro.showToast({ title, icon: 'none', duration: 3000 });
}

export function toastSuccess(title: string) {
  void Taro.showToast({ title, icon: 'success', duration: 1500 });
}
