import { Input, Text, View } from '@tarojs/components';
import Taro from '@tarojs/taro';
import type { Profile } from '@wxkit/shared';
import { useState } from 'react';
import { api, reasonOf, retryAfterOf } from '../../api/index.ts';
import { formatWait } from '../../api/messages.ts';
import { FormCell } from '../../components/form-cell.tsx';
import { notReadyView } from '../../components/status-views.tsx';
import { toastError, toastSuccess } from '../../components/toast.ts';
import { WeuiButton } from '../../components/weui-button.tsx';
import { REQUIRE_BINDING } from '../../config.ts';
import { capitalized } from '../../forms/capitalized.ts';
import { checkCredentials, fieldOfMessage, type Field } from '../../forms/credentials.ts';
import { setProfile, useLoadedAppState } from '../../state/app-store.ts';
import { useSecondsLeft, type Lockout } from './lockout.ts';
import './index.css';

type Busy = 'bind' | 'signUp' | 'unbind' | undefined;
type FormError = { field: Field | 'form'; message: string } | undefined;

/**
 * The account page: bind this WeChat user to an account that already exists (bindAccount), or sign up, which gives
 * this WeChat user a username and password (setPassword: same user, same data, one call); unbind when bound.
 */
export default function Account() {
  const state = useLoadedAppState();
  if (state.status !== 'ready') return notReadyView(state, 'Could not load your account');
  return state.profile.username ? <AccountView profile={state.profile} /> : <BindForm />;
}

/** A WeChat-only user: username + password, Bind or Sign up. */
function BindForm() {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState<Busy>();
  const [error, setError] = useState<FormError>();
  const [lockout, setLockout] = useState<Lockout>();
  const secondsLeft = useSecondsLeft(lockout);
  const locked = lockout !== undefined && secondsLeft > 0 && lockout.username === username.trim().toLowerCase();

  const submit = async (action: 'bind' | 'signUp') => {
    if (busy || locked) return;
    const checked = checkCredentials(username, password, action);
    if (!checked.ok) {
      setError({ field: checked.field, message: capitalized(checked.message) });
      return;
    }
    setError(undefined);
    setBusy(action);
    try {
      const input = { username: checked.username, password: checked.password };
      // bindAccount answers a session for the account: the auth link stores it before we get here.
      const profile = action === 'bind' ? (await api.client.bindAccount.mutate(input)).user : await api.client.setPassword.mutate(input);
      setPassword('');
      setProfile(profile);
      toastSuccess(action === 'bind' ? 'Bound' : 'Signed up');
      // Apps that demand an account came here from the home page with no way back: return there.
      if (REQUIRE_BINDING) void Taro.reLaunch({ url: '/pages/index/index' });
    } catch (caught) {
      const detail = toastError(caught);
      const reason = reasonOf(caught);
      if (reason === 'too_many_attempts') {
        setLockout({ username: checked.username, until: Date.now() + (retryAfterOf(caught) ?? 15 * 60) * 1000 });
        setError(undefined);
      } else if (reason === 'invalid_input') {
        setError({ field: fieldOfMessage(detail) ?? 'form', message: detail });
      } else if (reason === 'username_taken') {
        setError({ field: 'username', message: detail });
      } else if (reason === 'credentials_invalid') {
        setError({ field: 'password', message: detail });
      } else {
        setError({ field: 'form', message: detail });
      }
    } finally {
      setBusy(undefined);
    }
  };

  const fieldError = (field: Field | 'form') =>
    error?.field === field ? (
      <Text className='field-error' id={field === 'form' ? 'form-error' : `${field}-error`}>
        {error.message}
      </Text>
    ) : null;

  return (
    <View className='weui-form account'>
      <View className='weui-form__bd'>
        <View className='weui-form__text-area'>
          <Text className='weui-form__title'>{REQUIRE_BINDING ? 'An account is needed' : 'Your account'}</Text>
          <Text className='weui-form__desc account__desc' id={REQUIRE_BINDING ? 'required-note' : undefined}>
            {REQUIRE_BINDING
              ? 'This app works with an account. Bind the one you already have, or sign up with a new username and password.'
              : 'Bind this WeChat to the account you already have, or sign up: a username and password let you log in without WeChat too.'}
          </Text>
        </View>
        <View className='weui-form__control-area account__controls'>
          <View className='weui-cells__group weui-cells__group_form'>
            <View className='weui-cells weui-cells_form'>
              <FormCell label='Username' warn={error?.field === 'username'}>
                <Input
                  className='weui-input'
                  id='username-input'
                  value={username}
                  maxlength={32}
                  placeholder='3–32 of a-z 0-9 _ . -'
                  placeholderClass='weui-input__placeholder'
                  onInput={(e) => setUsername(e.detail.value)}
                />
              </FormCell>
              <FormCell label='Password' warn={error?.field === 'password'}>
                <Input
                  className='weui-input'
                  id='password-input'
                  password
                  value={password}
                  maxlength={128}
                  placeholder='At least 8 characters'
                  placeholderClass='weui-input__placeholder'
                  onInput={(e) => setPassword(e.detail.value)}
                  onConfirm={() => void submit('bind')}
                />
              </FormCell>
            </View>
            {/* One line reserved for messages, so showing one moves nothing. */}
            <View className='account__messages'>
              {fieldError('username')}
              {fieldError('password')}
              {fieldError('form')}
              {locked && (
                <Text className='field-error' id='lockout'>
                  {`Locked after too many wrong passwords. Try again in ${formatWait(secondsLeft)}.`}
                </Text>
              )}
            </View>
          </View>
        </View>
        <View className='weui-form__opr-area account__buttons'>
          <WeuiButton kind='primary' id='bind' busy={busy === 'bind'} disabled={locked} onClick={() => void submit('bind')}>
            Bind account
          </WeuiButton>
          <WeuiButton kind='default' id='sign-up' busy={busy === 'signUp'} disabled={locked} onClick={() => void submit('signUp')}>
            Sign up
          </WeuiButton>
        </View>
        <View className='weui-form__tips-area'>
          <Text className='weui-form__tips' id='unbind-note'>
            WeChat is your only way in for now, so it cannot be unbound. Once you bind or sign up, you can unbind it here.
          </Text>
        </View>
      </View>
    </View>
  );
}

/** A user with a username: bound to this WeChat, or an account without WeChat. */
function AccountView({ profile }: { profile: Profile }) {
  const [busy, setBusy] = useState<Busy>();
  const [error, setError] = useState<string>();

  const unbind = async () => {
    if (busy) return;
    const { confirm } = await Taro.showModal({
      title: 'Unbind WeChat?',
      content: `You will log in to ${profile.username} with its password. Opening the mini-program from this WeChat will start a new, empty user.`,
      confirmText: 'Unbind',
      confirmColor: '#fa5151',
      cancelText: 'Cancel',
    });
    if (!confirm) return;
    setBusy('unbind');
    setError(undefined);
    try {
      setProfile(await api.client.unbindWechat.mutate());
      toastSuccess('Unbound');
    } catch (caught) {
      setError(toastError(caught));
    } finally {
      setBusy(undefined);
    }
  };

  return (
    <View className='weui-form account'>
      <View className='weui-form__bd'>
        <View className='weui-form__text-area'>
          <Text className='weui-form__title'>Your account</Text>
          <Text className='weui-form__desc account__desc'>
            {profile.wechatBound
              ? 'This WeChat logs you in to your account. You can also log in with its username and password.'
              : 'This account has no WeChat bound. Open the mini-program from the WeChat you want and bind the account there.'}
          </Text>
        </View>
        <View className='weui-form__control-area account__controls'>
          <View className='weui-cells__group weui-cells__group_form'>
            <View className='weui-cells'>
              <View className='weui-cell'>
                <View className='weui-cell__bd'>
                  <Text>Username</Text>
                </View>
                <View className='weui-cell__ft'>
                  <Text id='account-username'>{profile.username}</Text>
                </View>
              </View>
              <View className='weui-cell'>
                <View className='weui-cell__bd'>
                  <Text>WeChat</Text>
                </View>
                <View className='weui-cell__ft'>
                  <Text id='account-wechat'>{profile.wechatBound ? 'Bound' : 'Not bound'}</Text>
                </View>
              </View>
            </View>
            <View className='account__messages'>
              {error && (
                <Text className='field-error' id='form-error'>
                  {error}
                </Text>
              )}
            </View>
          </View>
        </View>
        {profile.wechatBound && (
          <View className='weui-form__opr-area account__buttons'>
            <WeuiButton kind='warn' id='unbind' busy={busy === 'unbind'} onClick={() => void unbind()}>
              Unbind WeChat
            </WeuiButton>
          </View>
        )}
        <View className='weui-form__tips-area'>
          <Text className='weui-form__tips'>
            {profile.wechatBound
              ? 'Unbinding keeps the account and its password; WeChat is then no longer a way in.'
              : 'A WeChat-only user cannot unbind: WeChat would be its last way in.'}
          </Text>
        </View>
      </View>
    </View>
  );
}
