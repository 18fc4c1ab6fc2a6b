import { Button, Image, Input, Text, View } from '@tarojs/components';
import Taro from '@tarojs/taro';
import type { CheckSessionOutput, Profile } from '@wxkit/shared';
import { useCallback, useEffect, useState } from 'react';
import { api } from '../../api/index.ts';
import { describeError } from '../../api/messages.ts';
import { checkNickname } from './nickname.ts';
import './index.css';

type Screen =
  | { kind: 'loading' }
  | { kind: 'ready'; profile: Profile; session: CheckSessionOutput }
  | { kind: 'loggedOut' }
  | { kind: 'error'; detail: string };

function showError(error: unknown): string {
  const text = describeError(error);
  void Taro.showToast({ title: text.toast, icon: 'none', duration: 3000 });
  return text.detail;
}

/**
 * Runs a call alongside checkSession (one batched request in the steady state). If the call had to log in
 * again, the checkSession answer that travelled with it describes the old session: ask once more.
 */
async function withSession<T>(call: Promise<T>): Promise<[T, CheckSessionOutput]> {
  const [result, session] = await Promise.all([call, api.client.checkSession.query()]);
  return [result, session.valid ? session : await api.client.checkSession.query()];
}

function formatTime(iso: string): string {
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export default function Index() {
  const [screen, setScreen] = useState<Screen>({ kind: 'loading' });
  const [draft, setDraft] = useState('');
  // `disabled` is passed only when true: Taro H5 renders disabled="false" as an attribute its CSS treats as disabled.
  const [busy, setBusy] = useState(false);
  const [formError, setFormError] = useState<string | undefined>();

  // No login screen: the first call logs in silently (the auth link), both queries share one request.
  const load = useCallback(async () => {
    setScreen({ kind: 'loading' });
    try {
      const [profile, session] = await withSession(api.client.getProfile.query());
      setScreen({ kind: 'ready', profile, session });
      setDraft(profile.nickname ?? '');
    } catch (error) {
      setScreen({ kind: 'error', detail: showError(error) });
    }
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  const save = async () => {
    if (screen.kind !== 'ready') return;
    const checked = checkNickname(draft);
    if (!checked.ok) {
      setFormError(checked.message);
      return;
    }
    setFormError(undefined);
    setBusy(true);
    try {
      const [profile, session] = await withSession(api.client.updateProfile.mutate({ nickname: checked.nickname }));
      setScreen({ kind: 'ready', profile, session });
      setDraft(profile.nickname ?? '');
      void Taro.showToast({ title: 'Saved', icon: 'success', duration: 1500 });
    } catch (error) {
      setFormError(showError(error));
    } finally {
      setBusy(false);
    }
  };

  const logout = async () => {
    setBusy(true);
    try {
      await api.client.logout.mutate();
      api.session.forget();
      setScreen({ kind: 'loggedOut' });
    } catch (error) {
      showError(error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <View className='page'>
      {screen.kind === 'loading' && (
        <View className='card center' id='status-loading'>
          <Text className='muted'>Logging in…</Text>
        </View>
      )}

      {screen.kind === 'error' && (
        <View className='card' id='status-error'>
          <Text className='error-title'>Could not load your profile</Text>
          <Text className='error-detail' id='error-detail'>{screen.detail}</Text>
          <Button className='button primary' id='retry' onClick={() => void load()}>
            Retry
          </Button>
        </View>
      )}

      {screen.kind === 'loggedOut' && (
        <View className='card center' id='status-logged-out'>
          <Text className='muted'>You are logged out.</Text>
          <Button className='button primary' id='login-again' onClick={() => void load()}>
            Log in again
          </Button>
        </View>
      )}

      {screen.kind === 'ready' && (
        <View className='card' id='profile'>
          <View className='who'>
            {screen.profile.avatarUrl ? (
              <Image className='avatar' src={screen.profile.avatarUrl} mode='aspectFill' />
            ) : (
              <View className='avatar placeholder'>
                <Text>{(screen.profile.nickname ?? '?').slice(0, 1).toUpperCase()}</Text>
              </View>
            )}
            <View className='names'>
              <Text className='nickname' id='nickname'>
                {screen.profile.nickname ?? 'No nickname yet'}
              </Text>
              <Text className='id-label'>USER ID</Text>
              <Text className='user-id' id='user-id'>
                {screen.profile.id}
              </Text>
            </View>
          </View>

          <View className='form'>
            <Text className='label'>Nickname</Text>
            <Input
              className='input'
              id='nickname-input'
              value={draft}
              maxlength={32}
              placeholder='1 to 32 characters'
              onInput={(e) => setDraft(e.detail.value)}
              onConfirm={() => void save()}
            />
            {formError && (
              <Text className='error-detail' id='form-error'>
                {formError}
              </Text>
            )}
            <Button className='button primary' id='save' disabled={busy || undefined} onClick={() => void save()}>
              Save
            </Button>
          </View>

          <Button className='button' id='logout' disabled={busy || undefined} onClick={() => void logout()}>
            Log out
          </Button>

          <Text className='session-line' id='session-line'>
            {screen.session.valid ? `Session valid until ${formatTime(screen.session.expiresAt)}` : `Session ${screen.session.reason}`}
          </Text>
        </View>
      )}
    </View>
  );
}
