import Taro from '@tarojs/taro';
import { describeError } from '../api/messages.ts';

/** Shows the short line of a failed call as a toast; answers the full sentence for the page. */
export function toastError(error: unknown): string {
  const text = describeError(error);
  void Taro.showToast({ title: text.toast, icon: 'none', duration: 3000 });
  return text.detail;
}

export function toastSuccess(title: string) {
  void Taro.showToast({ title, icon: 'success', duration: 1500 });
}
