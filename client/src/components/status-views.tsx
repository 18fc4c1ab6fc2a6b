import { Text, View } from '@tarojs/components';
import { load, type AppState } from '../state/app-store.ts';
import { WeuiButton } from './weui-button.tsx';

/** While the silent login and the first load run: WeUI's loading circle where the page will be. */
export function LoadingView(props: { text?: string }) {
  return (
    <View className='status' id='status-loading'>
      <View className='weui-primary-loading weui-primary-loading_brand status__loading'>
        <View className='weui-primary-loading__dot' />
      </View>
      <Text className='status__hint'>{props.text ?? 'Logging in…'}</Text>
    </View>
  );
}

/** WeUI's message page: what went wrong, what to do, and a button that does it. */
export function ErrorView(props: { title: string; detail: string; onRetry: () => void }) {
  return (
    <View className='weui-msg' id='status-error'>
      <View className='weui-msg__icon-area'>
        <View className='weui-icon-warn weui-icon_msg' />
      </View>
      <View className='weui-msg__text-area'>
        <Text className='weui-msg__title'>{props.title}</Text>
        <Text className='weui-msg__desc' id='error-detail'>
          {props.detail}
        </Text>
      </View>
      <View className='weui-msg__opr-area'>
        <View className='weui-btn-area'>
          <WeuiButton kind='primary' id='retry' onClick={props.onRetry}>
            Retry
          </WeuiButton>
        </View>
      </View>
    </View>
  );
}

export function LoggedOutView(props: { onLogin: () => void }) {
  return (
    <View className='weui-msg' id='status-logged-out'>
      <View className='weui-msg__icon-area'>
        <View className='weui-icon-info-circle weui-icon_msg' />
      </View>
      <View className='weui-msg__text-area'>
        <Text className='weui-msg__title'>You are logged out</Text>
        <Text className='weui-msg__desc'>Your session on this device has ended. Log in again to continue; WeChat does it for you.</Text>
      </View>
      <View className='weui-msg__opr-area'>
        <View className='weui-btn-area'>
          <WeuiButton kind='primary' id='login-again' onClick={props.onLogin}>
            Log in again
          </WeuiButton>
        </View>
      </View>
    </View>
  );
}

/** What a page shows until the state is `ready`: loading, the error (under `errorTitle`, with Retry), or logged out. */
export function notReadyView(state: Exclude<AppState, { status: 'ready' }>, errorTitle: string) {
  if (state.status === 'loading') return <LoadingView />;
  if (state.status === 'error') return <ErrorView title={errorTitle} detail={state.detail} onRetry={() => void load()} />;
  return <LoggedOutView onLogin={() => void load()} />;
}
