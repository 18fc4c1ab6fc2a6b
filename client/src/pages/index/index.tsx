import { Text, View } from '@tarojs/components';
import Taro from '@tarojs/taro';
import type { CheckSessionOutput, Profile } from '@wxkit/shared';
import { useEffect, useState } from 'react';
import { api } from '../../api/index.ts';
import { phoneCodeFrom } from '../../api/wechat-data.ts';
import { Avatar } from '../../components/avatar.tsx';
import { LoadingView, notReadyView } from '../../components/status-views.tsx';
import { toastError, toastSuccess, toastText } from '../../components/toast.ts';
import { WeuiButton } from '../../components/weui-button.tsx';
import { REQUIRE_BINDING } from '../../config.ts';
import { setLoggedOut, setProfile, setWeRun, useLoadedAppState, type WeRunState } from '../../state/app-store.ts';
import { formatDay, formatSteps, weRunBars } from './werun.ts';
import './index.css';

type Busy = 'phone' | 'werun' | 'logout' | undefined;

function formatTime(iso: string): string {
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function sessionLine(session: CheckSessionOutput): string {
  return session.valid ? `Session valid until ${formatTime(session.expiresAt)}` : `Session ${session.reason}`;
}

function accountStatus(profile: Profile): string {
  if (!profile.username) return 'Not bound';
  return profile.wechatBound ? `Bound to ${profile.username}` : `${profile.username} (no WeChat)`;
}

/** The home page: who you are, what you can do. No login screen: the first call logs in silently. */
export default function Index() {
  const state = useLoadedAppState();
  const [busy, setBusy] = useState<Busy>();

  const mustBind = REQUIRE_BINDING && state.status === 'ready' && !state.profile.username;
  useEffect(() => {
    // Apps that demand an account: straight to the account page, which comes back here once bound.
    if (mustBind) void Taro.redirectTo({ url: '/pages/account/index' });
  }, [mustBind]);

  useEffect(() => {
    if (state.status === 'error') toastText(state.toast);
  }, [state]);

  const run = async (what: Exclude<Busy, undefined>, task: () => Promise<void>) => {
    if (busy) return;
    setBusy(what);
    try {
      await task();
    } catch (error) {
      toastError(error);
    } finally {
      setBusy(undefined);
    }
  };

  const bindPhone = (code: () => Promise<string>) =>
    run('phone', async () => {
      setProfile(await api.client.bindPhone.mutate({ code: await code() }));
      toastSuccess('Phone bound');
    });

  const syncWeRun = () =>
    run('werun', async () => {
      setWeRun({ status: 'loading' });
      try {
        const synced = await api.syncWeRun();
        const { days } = await api.client.getWeRun.query();
        setWeRun({ status: 'ready', days });
        toastSuccess(`${synced.days} days synced`);
      } catch (error) {
        setWeRun({ status: 'error', detail: toastError(error) });
      }
    });

  const logout = () =>
    run('logout', async () => {
      await api.client.logout.mutate();
      api.session.forget();
      setLoggedOut();
    });

  if (mustBind) return <LoadingView text='Opening your account…' />;
  if (state.status !== 'ready') return notReadyView(state, 'Could not load your profile');

  const { profile, session, weRun } = state;
  return (
    <View className='page' id='profile'>
      <View className='me' id='me'>
        <Avatar url={profile.avatarUrl} name={profile.nickname} size='large' id='me-avatar' />
        <View className='me__names'>
          <Text className='me__nickname' id='nickname'>
            {profile.nickname ?? 'No nickname yet'}
          </Text>
          <Text className='me__line' id='username'>
            {profile.username ? `Account: ${profile.username}` : 'WeChat user, no account yet'}
          </Text>
        </View>
      </View>

      <View className='weui-cells'>
        <View className='weui-cell weui-cell_access' id='go-profile' hoverClass='weui-cell_active' onClick={() => void Taro.navigateTo({ url: '/pages/profile/index' })}>
          <View className='weui-cell__bd'>
            <Text>Edit profile</Text>
          </View>
          <View className='weui-cell__ft weui-cell__ft_in-access'>
            <Text>Avatar, nickname</Text>
          </View>
        </View>
        <View className='weui-cell weui-cell_access' id='go-account' hoverClass='weui-cell_active' onClick={() => void Taro.navigateTo({ url: '/pages/account/index' })}>
          <View className='weui-cell__bd'>
            <Text>Account</Text>
          </View>
          <View className='weui-cell__ft weui-cell__ft_in-access'>
            <Text id='account-status'>{accountStatus(profile)}</Text>
          </View>
        </View>
        <View className='weui-cell'>
          <View className='weui-cell__bd'>
            <Text>Phone number</Text>
            <Text className='weui-cell__desc home__desc'>{process.env.TARO_ENV === 'h5' ? 'From the simulator' : 'Shared by WeChat'}</Text>
          </View>
          <View className='weui-cell__ft home__phone'>
            {profile.phone && (
              <Text className='home__phone-number' id='phone-masked'>
                {profile.phone}
              </Text>
            )}
            {process.env.TARO_ENV === 'h5' ? (
              // H5 has no getPhoneNumber button: the simulator mints the code WeChat would give.
              <WeuiButton kind={profile.phone ? 'default' : 'primary'} mini busy={busy === 'phone'} id='bind-phone' onClick={() => void bindPhone(() => api.wechat.devPhoneCode!(new AbortController().signal))}>
                {profile.phone ? 'Change' : 'Bind'}
              </WeuiButton>
            ) : (
              <WeuiButton
                kind={profile.phone ? 'default' : 'primary'}
                mini
                busy={busy === 'phone'}
                id='bind-phone'
                openType='getPhoneNumber'
                onGetPhoneNumber={(event) => void bindPhone(async () => phoneCodeFrom(event.detail))}
              >
                {profile.phone ? 'Change' : 'Bind'}
              </WeuiButton>
            )}
          </View>
        </View>
      </View>

      <View className='weui-cells__title'>WeRun</View>
      <View className='weui-cells'>
        <WeRunPanel weRun={weRun} />
        <View className='weui-cell'>
          <View className='weui-cell__bd'>
            <Text className='cell-value werun__hint'>{process.env.TARO_ENV === 'h5' ? 'Steps from the WeChat simulator' : 'Steps from WeChat WeRun'}</Text>
          </View>
          <View className='weui-cell__ft'>
            <WeuiButton kind='primary' mini busy={busy === 'werun'} id='sync-werun' onClick={() => void syncWeRun()}>
              Sync
            </WeuiButton>
          </View>
        </View>
      </View>

      <View className='weui-cells home__logout'>
        <WeuiButton kind='default' cell busy={busy === 'logout'} id='logout' onClick={() => void logout()}>
          Log out
        </WeuiButton>
      </View>

      <View className='weui-footer home__footer'>
        <Text className='weui-footer__text' id='session-line'>
          {sessionLine(session)}
        </Text>
        <Text className='weui-footer__text home__user-id' id='user-id'>
          {profile.id}
        </Text>
      </View>
    </View>
  );
}

/** The last days' steps as a bar chart, at a fixed height so nothing below moves while it loads. */
function WeRunPanel({ weRun }: { weRun: WeRunState }) {
  if (weRun.status !== 'ready' || weRun.days.length === 0) {
    const text = weRun.status === 'loading' ? 'Loading steps…' : weRun.status === 'error' ? weRun.detail : 'No steps yet: tap Sync to read them from WeRun.';
    return (
      <View className='weui-cell werun'>
        <Text className='werun__empty' id='werun-empty'>
          {text}
        </Text>
      </View>
    );
  }
  const bars = weRunBars(weRun.days);
  const latest = bars[bars.length - 1]!;
  return (
    <View className='weui-cell werun' id='werun'>
      <View className='werun__summary'>
        <Text className='werun__steps' id='werun-latest'>
          {formatSteps(latest.steps)}
        </Text>
        <Text className='werun__unit'>{`steps on ${formatDay(latest.date)}`}</Text>
      </View>
      <View className='werun__chart' id='werun-days'>
        {bars.map((bar) => (
          <View className='werun__bar-col' key={bar.date}>
            <View className='werun__bar-track'>
              <View className={bar === latest ? 'werun__bar werun__bar_latest' : 'werun__bar'} style={{ height: `${bar.percent}%` }} />
            </View>
            <Text className='werun__label'>{bar.label}</Text>
          </View>
        ))}
      </View>
    </View>
  );
}
